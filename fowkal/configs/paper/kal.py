# Table 2 (d): KAL, per-keypoint lambda from the KAF head mixing AWing and MSE (Eq. 6-8).
_base_ = ['../paper_base.py']

model = dict(head=dict(loss=dict(method='kal')))
