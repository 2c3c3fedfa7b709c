"""The paper's reported numbers (COCO-WholeBody v1.0 val, AP/AR in %), labelled as the paper's.

Transcribed from the paper's Tables 1-3 (see ``book/loss_decisions.md`` §10). These are never
our results: the book shows them beside ours, in separate, labelled columns or blocks.
"""
from types import MappingProxyType

SOURCE = "Seong, Lee & Lee, Keypoint-wise Adaptive Loss for Whole-Body Human Pose Estimation"

#: Table 1: method -> (whole-body AP, whole-body AR, body, foot, face, hand AP); None = not reported.
TABLE1 = MappingProxyType({
    "AE (bottom-up)": (27.4, 35.0, 40.5, 7.7, 47.7, 34.1),
    "OpenPose (bottom-up)": (33.8, 44.9, 56.3, 53.2, 48.2, 19.8),
    "Keypoint Communities (bottom-up)": (60.4, None, 69.6, 63.4, 85.0, 52.9),
    "ZoomNet (top-down, trained on V0.5)": (54.1, 65.8, 74.3, 79.8, 62.3, 40.1),
    "HRNet-w32": (55.3, 62.6, 70.0, 56.7, 63.7, 47.3),
    "TCFormer": (57.2, 67.8, 69.1, 69.8, 64.9, 53.5),
    "HRNet-w32+DARK": (58.2, 67.1, 69.4, 56.5, 73.6, 50.3),
    "HRNet-w32+DARK+FoWKAL": (61.6, 71.1, 72.7, 74.2, 73.8, 53.5),
})
TABLE1_COLUMNS = ("wholebody AP", "wholebody AR", "body AP", "foot AP", "face AP", "hand AP")

#: Table 2 (ablation, AP): method -> {part: AP}.
TABLE2 = MappingProxyType({
    "mse": dict(wholebody=58.2, body=69.4, foot=56.5, face=73.6, hand=50.3),
    "awing": dict(wholebody=57.9, body=67.6, foot=52.4, face=76.8, hand=50.9),
    "heuristic": dict(wholebody=58.7, body=70.2, foot=58.6, face=76.5, hand=48.4),
    "kal": dict(wholebody=58.4, body=71.8, foot=73.4, face=69.6, hand=45.8),
    "heuristic_fwahr": dict(wholebody=61.2, body=71.1, foot=69.0, face=76.4, hand=53.2),
    "fowkal": dict(wholebody=61.6, body=72.7, foot=74.2, face=73.8, hand=53.5),
})
TABLE2_ROWS = MappingProxyType({"mse": "(a) MSE", "awing": "(b) AWing", "heuristic": "(c) heuristic (Eq. 5)",
                                "kal": "(d) KAL", "heuristic_fwahr": "(e) heuristic + FWAHR",
                                "fowkal": "(f) KAL + FWAHR (FoWKAL)"})

#: Table 3 (whole-body AP): method -> AP.
TABLE3 = MappingProxyType({"heuristic_wahr": 59.6, "heuristic_fwahr": 61.2, "kal_wahr": 59.5, "fowkal": 61.6})
TABLE3_ROWS = MappingProxyType({"heuristic_wahr": "Heuristic + WAHR", "heuristic_fwahr": "Heuristic + FWAHR",
                                "kal_wahr": "KAL + WAHR", "fowkal": "KAL + FWAHR"})

#: The paper's claimed differences: (name, better method, worse method, part, paper's Δ in AP points).
CLAIMS = (
    ("AWing beats MSE on face", "awing", "mse", "face", 3.2),
    ("AWing beats MSE on hand", "awing", "mse", "hand", 0.6),
    ("MSE beats AWing on body", "mse", "awing", "body", 1.8),
    ("MSE beats AWing on foot", "mse", "awing", "foot", 4.1),
    ("heuristic beats MSE (whole-body)", "heuristic", "mse", "wholebody", 0.5),
    ("KAL beats heuristic on foot", "kal", "heuristic", "foot", 14.8),
    ("KAL beats MSE on body", "kal", "mse", "body", 2.4),
    ("FWAHR helps the heuristic (whole-body)", "heuristic_fwahr", "heuristic", "wholebody", 2.5),
    ("FWAHR helps KAL (whole-body)", "fowkal", "kal", "wholebody", 3.2),
    ("FWAHR helps KAL on face", "fowkal", "kal", "face", 4.2),
    ("FWAHR helps KAL on hand", "fowkal", "kal", "hand", 7.7),
    ("FWAHR beats WAHR with the heuristic", "heuristic_fwahr", "heuristic_wahr", "wholebody", 1.6),
    ("FWAHR beats WAHR with KAL", "fowkal", "kal_wahr", "wholebody", 2.1),
    ("FoWKAL beats the MSE baseline (whole-body)", "fowkal", "mse", "wholebody", 3.4),
)
