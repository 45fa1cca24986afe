import DefaultTheme from 'vitepress/theme';
import RunExample from './RunExample.vue';

export default {
  extends: DefaultTheme,
  enhanceApp({ app }: { app: import('vue').App }) {
    app.component('RunExample', RunExample);
  },
};
