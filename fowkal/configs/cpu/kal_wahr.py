# Table 3: KAL with WAHR pixel weights.
_base_ = ['../cpu_base.py']

model = dict(head=dict(loss=dict(method='kal_wahr')))
