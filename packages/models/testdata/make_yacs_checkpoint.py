"""Writes swin_32_train_yacs.pth: an official-Swin-style training checkpoint (torch zip format) holding
{'model': state_dict, 'optimizer': {...}, 'lr_scheduler': {...}, 'max_accuracy': float, 'epoch': int,
 'config': yacs CfgNode, 'scaler': {...}} like microsoft/Swin-Transformer's utils.save_checkpoint.

The state_dict and its storages are copied byte for byte from ../../../../shared/fixtures/checkpoints/
swin_32_model_key.pth (written by torch.save from the swin_model_32_p2_ape parity fixture); the config is a
yacs CfgNode tree with that fixture's kwargs. Needs only the Python standard library (no torch, no yacs):
the torch and yacs globals are stand-ins that pickle under the real names.

    python3 make_yacs_checkpoint.py
"""
import collections
import io
import os
import pickle
import sys
import types
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(HERE, '..', '..', '..', '..', 'shared', 'fixtures', 'checkpoints', 'swin_32_model_key.pth')
OUT = os.path.join(HERE, 'swin_32_train_yacs.pth')


def module(name):
    m = types.ModuleType(name)
    sys.modules[name] = m
    return m


torch = module('torch')
torch_utils = module('torch._utils')
yacs = module('yacs')
yacs_config = module('yacs.config')


class FloatStorage:
    pass


class LongStorage:
    pass


for cls in (FloatStorage, LongStorage):
    cls.__module__ = 'torch'
    setattr(torch, cls.__name__, cls)


def _rebuild_tensor_v2(*args):
    return RebuiltTensor(args)


_rebuild_tensor_v2.__module__ = 'torch._utils'
torch_utils._rebuild_tensor_v2 = _rebuild_tensor_v2


class Storage:
    def __init__(self, pid):
        self.pid = pid


class RebuiltTensor:
    def __init__(self, args):
        self.args = args

    def __reduce__(self):
        return (_rebuild_tensor_v2, self.args)


class CfgNode(dict):
    """Pickles like yacs.config.CfgNode (a dict subclass with four bookkeeping attributes)."""

    def __init__(self, d=None):
        super().__init__(d or {})
        self.__dict__['__immutable__'] = True
        self.__dict__['__deprecated_keys__'] = set()
        self.__dict__['__renamed_keys__'] = {}
        self.__dict__['__new_allowed__'] = False


CfgNode.__module__ = 'yacs.config'
yacs_config.CfgNode = CfgNode


class Reader(pickle.Unpickler):
    def find_class(self, mod, name):
        return getattr(sys.modules[mod], name) if mod in ('torch', 'torch._utils') else super().find_class(mod, name)

    def persistent_load(self, pid):
        return Storage(pid)


class Writer(pickle.Pickler):
    def persistent_id(self, obj):
        return obj.pid if isinstance(obj, Storage) else None


src = zipfile.ZipFile(SRC)
prefix = src.namelist()[0].split('/')[0]
ckpt = Reader(io.BytesIO(src.read(f'{prefix}/data.pkl'))).load()

C = CfgNode
config = C({
    'BASE': [''],
    'DATA': C({'BATCH_SIZE': 128, 'DATA_PATH': 'imagenet', 'DATASET': 'imagenet', 'IMG_SIZE': 32,
               'INTERPOLATION': 'bicubic', 'PIN_MEMORY': True, 'NUM_WORKERS': 8}),
    'MODEL': C({
        'TYPE': 'swin', 'NAME': 'swin_micro_patch2_window4_32', 'PRETRAINED': '', 'RESUME': '',
        'NUM_CLASSES': 5, 'DROP_RATE': 0.0, 'DROP_PATH_RATE': 0.0, 'LABEL_SMOOTHING': 0.1,
        'SWIN': C({'PATCH_SIZE': 2, 'IN_CHANS': 3, 'EMBED_DIM': 16, 'DEPTHS': [1, 2, 1], 'NUM_HEADS': [1, 2, 2],
                   'WINDOW_SIZE': 4, 'MLP_RATIO': 2.0, 'QKV_BIAS': True, 'QK_SCALE': None, 'APE': True,
                   'PATCH_NORM': True}),
        'SWIN_MLP': C({'PATCH_SIZE': 4, 'IN_CHANS': 3, 'EMBED_DIM': 96, 'DEPTHS': [2, 2, 6, 2],
                       'NUM_HEADS': [3, 6, 12, 24], 'WINDOW_SIZE': 7, 'MLP_RATIO': 4.0, 'APE': False,
                       'PATCH_NORM': True}),
    }),
    'TRAIN': C({'START_EPOCH': 0, 'EPOCHS': 300, 'WARMUP_EPOCHS': 20, 'BASE_LR': 5e-4,
                'OPTIMIZER': C({'NAME': 'adamw', 'EPS': 1e-8, 'BETAS': (0.9, 0.999), 'MOMENTUM': 0.9})}),
    'TEST': C({'CROP': True, 'SEQUENTIAL': False}),
    'OUTPUT': 'output/swin_micro', 'TAG': 'default', 'SEED': 0,
})

out = {
    'model': ckpt['model'],
    'optimizer': {'state': {}, 'param_groups': [{'lr': 5e-4, 'betas': (0.9, 0.999), 'weight_decay': 0.05,
                                                 'params': list(range(8))}]},
    'lr_scheduler': {'t_initial': 300, 'last_epoch': 299},
    'max_accuracy': 12.5,
    'scaler': {'scale': 65536.0, 'growth_factor': 2.0},
    'epoch': 299,
    'config': config,
}
buf = io.BytesIO()
Writer(buf, protocol=2).dump(out)

with zipfile.ZipFile(OUT, 'w', zipfile.ZIP_STORED) as z:
    z.writestr('archive/data.pkl', buf.getvalue())
    for name in src.namelist():
        rest = name.split('/', 1)[1]
        if rest != 'data.pkl':
            z.writestr(f'archive/{rest}', src.read(name))
print(OUT, os.path.getsize(OUT))
