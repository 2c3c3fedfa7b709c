auto_scale_lr = dict(base_batch_size=32, enable=True)
backend_args = dict(backend='local')
codec = dict(
    _scope_='mmpose',
    heatmap_size=(
        24,
        32,
    ),
    input_size=(
        96,
        128,
    ),
    sigma=2,
    type='MSRAHeatmap',
    unbiased=True)
custom_hooks = [
    dict(_scope_='mmpose', type='SyncBuffersHook'),
    dict(type='KAFLoggingHook'),
    dict(type='EpochSeedHook'),
]
custom_imports = dict(
    allow_failed_imports=False, imports=[
        'fowkal.mmpose',
        'fowkal.hooks',
    ])
data_mode = 'topdown'
data_root = None
dataset_type = 'CocoWholeBodyDataset'
default_hooks = dict(
    checkpoint=dict(
        _scope_='mmpose',
        by_epoch=True,
        interval=1,
        max_keep_ckpts=2,
        rule='greater',
        save_best='coco-wholebody/AP',
        type='CheckpointHook'),
    logger=dict(_scope_='mmpose', interval=20, type='LoggerHook'),
    param_scheduler=dict(_scope_='mmpose', type='ParamSchedulerHook'),
    sampler_seed=dict(_scope_='mmpose', type='DistSamplerSeedHook'),
    timer=dict(_scope_='mmpose', type='IterTimerHook'),
    visualization=dict(
        _scope_='mmpose', enable=False, type='PoseVisualizationHook'))
default_scope = 'mmpose'
env_cfg = dict(
    cudnn_benchmark=False,
    dist_cfg=dict(backend='gloo'),
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0))
fowkal = dict(
    config_file='/work/main/fowkal/configs/cpu/fowkal.py',
    data_root='/work/main/data/wholebody-synth-2229786d2e',
    gpus=1,
    gt_boxes=False,
    method='fowkal',
    pretrained=None,
    profile='cpu',
    seed=2)
heatmap_size = (
    24,
    32,
)
input_size = (
    96,
    128,
)
launcher = 'none'
load_from = None
log_level = 'INFO'
log_processor = dict(
    _scope_='mmpose',
    by_epoch=True,
    num_digits=6,
    type='LogProcessor',
    window_size=50)
max_epochs = 3
milestones = [
    2,
    3,
]
model = dict(
    _scope_='mmpose',
    backbone=dict(
        extra=dict(
            stage1=dict(
                block='BOTTLENECK',
                num_blocks=(1, ),
                num_branches=1,
                num_channels=(32, ),
                num_modules=1),
            stage2=dict(
                block='BASIC',
                num_blocks=(
                    1,
                    1,
                ),
                num_branches=2,
                num_channels=(
                    16,
                    32,
                ),
                num_modules=1),
            stage3=dict(
                block='BASIC',
                num_blocks=(
                    1,
                    1,
                    1,
                ),
                num_branches=3,
                num_channels=(
                    16,
                    32,
                    64,
                ),
                num_modules=1),
            stage4=dict(
                block='BASIC',
                num_blocks=(
                    1,
                    1,
                    1,
                    1,
                ),
                num_branches=4,
                num_channels=(
                    16,
                    32,
                    64,
                    128,
                ),
                num_modules=1)),
        in_channels=3,
        init_cfg=None,
        type='HRNet'),
    data_preprocessor=dict(
        bgr_to_rgb=True,
        mean=[
            123.675,
            116.28,
            103.53,
        ],
        std=[
            58.395,
            57.12,
            57.375,
        ],
        type='PoseDataPreprocessor'),
    head=dict(
        conv_kernel_sizes=(3, ),
        conv_out_channels=(64, ),
        decoder=dict(
            heatmap_size=(
                24,
                32,
            ),
            input_size=(
                96,
                128,
            ),
            sigma=2,
            type='MSRAHeatmap',
            unbiased=True),
        deconv_out_channels=None,
        in_channels=16,
        loss=dict(
            fused=True,
            method='fowkal',
            type='FoWKALLoss',
            use_target_weight=True),
        out_channels=133,
        type='KAFHeatmapHead'),
    test_cfg=dict(flip_mode='heatmap', flip_test=True, shift_heatmap=True),
    type='TopdownPoseEstimator')
optim_wrapper = dict(optimizer=dict(_scope_='mmpose', lr=0.002, type='Adam'))
param_scheduler = [
    dict(
        begin=0, by_epoch=False, end=100, start_factor=0.001, type='LinearLR'),
    dict(
        begin=0,
        by_epoch=True,
        end=3,
        gamma=0.1,
        milestones=[
            2,
            3,
        ],
        type='MultiStepLR'),
]
randomness = dict(deterministic=False, diff_rank_seed=False, seed=2)
resume = False
test_cfg = dict()
test_dataloader = dict(
    batch_size=64,
    dataset=dict(
        _scope_='mmpose',
        ann_file=
        '/work/main/data/wholebody-synth-2229786d2e/annotations/wholebody_val.json',
        bbox_file=
        '/work/main/data/wholebody-synth-2229786d2e/annotations/person_detections_val.json',
        data_mode='topdown',
        data_prefix=dict(
            img='/work/main/data/wholebody-synth-2229786d2e/images/val/'),
        data_root='/work/main/data/wholebody-synth-2229786d2e',
        pipeline=[
            dict(type='LoadImage'),
            dict(type='GetBBoxCenterScale'),
            dict(input_size=(
                96,
                128,
            ), type='TopdownAffine'),
            dict(type='PackPoseInputs'),
        ],
        test_mode=True,
        type='CocoWholeBodyDataset'),
    drop_last=False,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(
        _scope_='mmpose', round_up=False, shuffle=False,
        type='DefaultSampler'))
test_evaluator = dict(
    _scope_='mmpose',
    ann_file=
    '/work/main/data/wholebody-synth-2229786d2e/annotations/wholebody_val.json',
    type='CocoWholeBodyMetric')
train_cfg = dict(by_epoch=True, max_epochs=3, val_interval=3)
train_dataloader = dict(
    batch_size=32,
    dataset=dict(
        _scope_='mmpose',
        ann_file=
        '/work/main/data/wholebody-synth-2229786d2e/annotations/wholebody_train.json',
        data_mode='topdown',
        data_prefix=dict(
            img='/work/main/data/wholebody-synth-2229786d2e/images/train/'),
        data_root='/work/main/data/wholebody-synth-2229786d2e',
        pipeline=[
            dict(type='LoadImage'),
            dict(type='GetBBoxCenterScale'),
            dict(direction='horizontal', type='RandomFlip'),
            dict(prob=0.1, type='RandomHalfBody'),
            dict(
                rotate_factor=30.0,
                scale_factor=(
                    0.75,
                    1.25,
                ),
                type='RandomBBoxTransform'),
            dict(input_size=(
                96,
                128,
            ), type='TopdownAffine'),
            dict(
                encoder=dict(
                    heatmap_size=(
                        24,
                        32,
                    ),
                    input_size=(
                        96,
                        128,
                    ),
                    sigma=2,
                    type='MSRAHeatmap',
                    unbiased=True),
                type='GenerateTarget'),
            dict(type='PackPoseInputs'),
        ],
        type='CocoWholeBodyDataset'),
    num_workers=2,
    persistent_workers=True,
    sampler=dict(_scope_='mmpose', shuffle=True, type='DefaultSampler'))
train_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(direction='horizontal', type='RandomFlip'),
    dict(prob=0.1, type='RandomHalfBody'),
    dict(
        rotate_factor=30.0,
        scale_factor=(
            0.75,
            1.25,
        ),
        type='RandomBBoxTransform'),
    dict(input_size=(
        96,
        128,
    ), type='TopdownAffine'),
    dict(
        encoder=dict(
            heatmap_size=(
                24,
                32,
            ),
            input_size=(
                96,
                128,
            ),
            sigma=2,
            type='MSRAHeatmap',
            unbiased=True),
        type='GenerateTarget'),
    dict(type='PackPoseInputs'),
]
val_cfg = dict()
val_dataloader = dict(
    batch_size=64,
    dataset=dict(
        _scope_='mmpose',
        ann_file=
        '/work/main/data/wholebody-synth-2229786d2e/annotations/wholebody_val.json',
        bbox_file=
        '/work/main/data/wholebody-synth-2229786d2e/annotations/person_detections_val.json',
        data_mode='topdown',
        data_prefix=dict(
            img='/work/main/data/wholebody-synth-2229786d2e/images/val/'),
        data_root='/work/main/data/wholebody-synth-2229786d2e',
        pipeline=[
            dict(type='LoadImage'),
            dict(type='GetBBoxCenterScale'),
            dict(input_size=(
                96,
                128,
            ), type='TopdownAffine'),
            dict(type='PackPoseInputs'),
        ],
        test_mode=True,
        type='CocoWholeBodyDataset'),
    drop_last=False,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(
        _scope_='mmpose', round_up=False, shuffle=False,
        type='DefaultSampler'))
val_evaluator = dict(
    _scope_='mmpose',
    ann_file=
    '/work/main/data/wholebody-synth-2229786d2e/annotations/wholebody_val.json',
    type='CocoWholeBodyMetric')
val_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(input_size=(
        96,
        128,
    ), type='TopdownAffine'),
    dict(type='PackPoseInputs'),
]
vis_backends = [
    dict(_scope_='mmpose', type='LocalVisBackend'),
]
visualizer = dict(
    _scope_='mmpose',
    name='visualizer',
    type='PoseLocalVisualizer',
    vis_backends=[
        dict(type='LocalVisBackend'),
    ])
work_dir = '/work/main/work_dirs/kaf-study/strong/fowkal-paper/seed2'
