# Table 2 (b): Adaptive Wing loss on all keypoints (Eq. 3).
_base_ = ['../cpu_base.py']

model = dict(head=dict(loss=dict(method='awing')))
