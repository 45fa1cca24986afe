import DefaultTheme from 'vitepress/theme';
import BenchmarkChart from './components/BenchmarkChart.vue';
import SwinFigure from './components/SwinFigure.vue';
import RunExample from './RunExample.vue';
import './custom.css';

export default {
  extends: DefaultTheme,
  enhanceApp({ app }: { app: import('vue').App }) {
    app.component('RunExample', RunExample);
    app.component('BenchmarkChart', BenchmarkChart);
    app.component('SwinFigure', SwinFigure);
  },
};
