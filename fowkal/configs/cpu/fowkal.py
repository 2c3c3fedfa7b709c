# Table 2 (f): FoWKAL, KAL with FWAHR pixel weights (Eq. 10-11).
_base_ = ['../cpu_base.py']

model = dict(head=dict(loss=dict(method='fowkal')))
