# The CPU profile: the paper's pipeline (MSRAHeatmap with DARK, sigma 2, flip test, MMPose's
# augmentations, Adam with warm-up and two steps) at a scale where one training run on the embedded
# benchmark (fowkal.data) takes at most 5 minutes on 2 CPU cores, evaluation included:
# a small HRNet at 128x96 input (the crop size the benchmark is drawn for) predicting the paper's 64x48
# heatmaps, sigma 2, through one learned 2x upsampling (fowkal.configs.geometry: 'shuffle64').
# Before 2026-11-27 the profile read 32x24 heatmaps directly off the stride-4 features (CHANGELOG.md;
# geometry_overrides('32x24') rebuilds it). Side by side in one process, a 64x48 step costs 1.15x (mse) /
# 1.40x (fowkal) a 32x24 step, once fowkal.runs.train keeps freed memory (benchmarks/bench_geometry.py).
# data_root is filled in by fowkal.configs.build_config (default: fowkal.data.default_benchmark()).
_base_ = ['./paper_base.py']

data_root = None  # set by build_config
input_size, heatmap_size = (96, 128), (48, 64)  # (w, h): stride 4, then x2 in the head
max_epochs = 3
milestones = [2, 3]  # the paper steps at 81% and 95% of its schedule; at 3 epochs: after 2

# 1 process x 32 crops is the reference batch for the lr below
auto_scale_lr = dict(base_batch_size=32, enable=True)
optim_wrapper = dict(optimizer=dict(type='Adam', lr=2e-3))
param_scheduler = [
    dict(type='LinearLR', begin=0, end=100, start_factor=0.001, by_epoch=False),  # warm-up
    dict(type='MultiStepLR', begin=0, end=max_epochs, milestones=milestones, gamma=0.1,
         by_epoch=True),
]
# validate (ground-truth boxes, per-part AP) after every epoch: the run record's learning curve
train_cfg = dict(max_epochs=max_epochs, val_interval=1)
default_hooks = dict(logger=dict(interval=20), checkpoint=dict(interval=1, max_keep_ckpts=2))

# the data pipeline's MMPose pieces are fowkal.mmpose.data's twins: the same samples, bit for bit, at
# about half the CPU time a sample costs (the loader's workers share the 2 cores with the model)
codec = dict(type='FastMSRAHeatmap', input_size=input_size, heatmap_size=heatmap_size, sigma=2,
             unbiased=True)

# HRNet at a quarter of w32's width, one module and one block per stage
model = dict(
    backbone=dict(
        _delete_=True,
        type='HRNet',
        in_channels=3,
        extra=dict(
            stage1=dict(num_modules=1, num_branches=1, block='BOTTLENECK', num_blocks=(1, ),
                        num_channels=(32, )),
            stage2=dict(num_modules=1, num_branches=2, block='BASIC', num_blocks=(1, 1),
                        num_channels=(16, 32)),
            stage3=dict(num_modules=1, num_branches=3, block='BASIC', num_blocks=(1, 1, 1),
                        num_channels=(16, 32, 64)),
            stage4=dict(num_modules=1, num_branches=4, block='BASIC', num_blocks=(1, 1, 1, 1),
                        num_channels=(16, 32, 64, 128))),
        init_cfg=None),
    # a 3x3 conv (16 -> 64 channels) at 32x24, so 133 heatmaps are not read linearly off 16 channels;
    # PixelShuffle(2) turns its 64 channels into 16 at 64x48 for the 1x1 output layer (sub-pixel conv)
    # the loss (paper_base, one method per file) is build_loss's default, as everywhere: the fused
    # single pass, its pixel work compiled where that pays off (fowkal.losses); reference=True would
    # ask for the autograd definition instead
    head=dict(in_channels=16, conv_out_channels=(64, ), conv_kernel_sizes=(3, ), pixel_shuffle=2,
              decoder=codec))

train_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='RandomFlip', direction='horizontal'),
    # MMPose's augmentations, milder: a few epochs, not 210 (rotation 80 -> 30 deg, scale 0.5-1.5 -> 0.75-1.25)
    dict(type='RandomHalfBody', prob=0.1),
    dict(type='FastRandomBBoxTransform', rotate_factor=30.0, scale_factor=(0.75, 1.25)),
    dict(type='TopdownAffine', input_size=input_size),
    dict(type='GenerateTarget', encoder=codec),
    # training reads none of the raw annotation, which PackPoseInputs would deep-copy into every sample
    dict(type='PackPoseInputs', meta_keys=('id', 'img_id', 'img_path', 'category_id', 'ori_shape',
                                           'img_shape', 'input_size', 'input_center', 'input_scale',
                                           'flip', 'flip_direction', 'flip_indices')),
]
val_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='TopdownAffine', input_size=input_size),
    dict(type='PackPoseInputs'),
]

# the embedded benchmark's layout (fowkal.data: TRAIN_ANN, VAL_ANN, VAL_DETECTIONS, image_prefix)
train_dataloader = dict(
    batch_size=32,
    num_workers=2,
    persistent_workers=True,
    dataset=dict(
        type='FastCocoWholeBodyDataset',
        data_root=data_root,
        ann_file='annotations/wholebody_train.json',
        data_prefix=dict(img='images/train/'),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=64,
    num_workers=2,
    persistent_workers=True,
    dataset=dict(
        type='FastCocoWholeBodyDataset',
        data_root=data_root,
        ann_file='annotations/wholebody_val.json',
        data_prefix=dict(img='images/val/'),
        bbox_file='annotations/person_detections_val.json',
        pipeline=val_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file='annotations/wholebody_val.json')
test_evaluator = val_evaluator
