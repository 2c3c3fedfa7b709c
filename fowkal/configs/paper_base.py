# The paper's setting (Sec. 4.1): HRNet-w32 + DARK, 256x192 input, 64x48 heatmaps, sigma 2,
# COCO-WholeBody v1.0 with person detections, flip test, Adam 5e-4, warm-up 500 iterations from
# 0.001, steps at epochs 170 and 200, 210 epochs, 32 crops per GPU on 8 GPUs.
# Everything not set here is MMPose's own HRNet-w32 DARK COCO-WholeBody config.
# Paths follow MMPose's convention (relative to the working directory); fowkal.configs.build_config
# sets them from arguments. The loss/head is set per method in paper/<method>.py.
_base_ = ['mmpose::wholebody_2d_keypoint/topdown_heatmap/coco-wholebody/'
          'td-hm_hrnet-w32_dark-8xb64-210e_coco-wholebody-256x192.py']

custom_imports = dict(imports=['fowkal.mmpose'], allow_failed_imports=False)

# 8 GPUs x 32 crops: lr 5e-4 is for a total batch of 256 (scaled linearly for other totals)
auto_scale_lr = dict(base_batch_size=256, enable=True)

model = dict(
    # ImageNet-pretrained HRNet-w32 from a weights file (build_config(pretrained=...)), as the paper;
    # build_config refuses to go on without one unless from_scratch=True. Never fetched from the web
    backbone=dict(init_cfg=None),
    head=dict(
        type='KAFHeatmapHead',
        loss=dict(_delete_=True, type='FoWKALLoss', method='mse', use_target_weight=True)))

# The paper's augmentation (Sec. 4.1): flip, half-body, rotation ±40° (MMPose 1.x's default is ±80°)
# and scale 0.5-1.5; the target is DARK's unbiased Gaussian, sigma 2, on 64x48 heatmaps
codec = dict(type='MSRAHeatmap', input_size=(192, 256), heatmap_size=(48, 64), sigma=2, unbiased=True)
train_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='RandomFlip', direction='horizontal'),
    dict(type='RandomHalfBody'),
    dict(type='RandomBBoxTransform', rotate_factor=40.0, scale_factor=(0.5, 1.5)),
    dict(type='TopdownAffine', input_size=codec['input_size']),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackPoseInputs'),
]
# every sample augmented from (seed, epoch, position): a resumed run draws what it would have drawn
# uninterrupted, and every method trained with one seed sees the same samples (fowkal.mmpose.data)
train_dataloader = dict(batch_size=32, sampler=dict(type='SeededSampler', shuffle=True),
                        dataset=dict(type='FastCocoWholeBodyDataset', pipeline=train_pipeline))
val_dataloader = dict(batch_size=32)
test_dataloader = val_dataloader
