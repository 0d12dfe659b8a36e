"""Section "Beyond Classification" (with the autoencoder of the overview and "Supervised vs Unsupervised
Learning"): structure without labels, a class per pixel, a box per object, a sentence per image.
"""

from __future__ import annotations

import torch

from sections.common import Report, band, mean

SMOKE_SCENES = ["data.train_size=96", "data.val_size=32", "data.test_size=32", "data.batch_size=32"]
# task -> (model, data, the metrics shown, the run's picture, what the picture shows)
TASKS = {
    "autoencoder": ("digits", ["test/knn_acc", "test/pca_knn_acc", "test/recon_mse"], "code.png",
                    "the 2-D code of the test digits, coloured by the class the autoencoder never saw"),
    "segmenter": ("scenes", ["test/miou", "test/pixel_acc"], "segmentation.png", "the class of every pixel"),
    "detector": ("scenes", ["test/map50", "test/map"], "detections.png", "the boxes found, with class and score"),
    "captioner": ("scenes", ["test/exact", "test/bleu4"], "captions.png", "captions written from the images alone"),
}  # fmt: skip


def main(scale: str) -> None:
    report = Report("beyond", "Beyond classification: autoencoder, segmentation, detection, captioning", scale)
    report.text(
        "Each model trains with its defaults (`python train.py model=<name> data=<data>`) on the zoo's "
        "offline data: scikit-learn's digits, and `data=scenes` (1-4 of those digits on a 48x48 canvas with "
        "their pixel masks, boxes and captions; the test scenes use digit images no training scene uses); "
        f"seeds {', '.join(map(str, report.seeds))}.",
    )
    rows, result, autoencoders = [], {}, []
    for model, (data, metrics, _, _) in TASKS.items():
        overrides = [f"model={model}", f"data={data}"]
        if scale == "smoke":
            overrides += ["trainer.max_epochs=1"] + (SMOKE_SCENES if data == "scenes" else [])
        for seed in report.seeds:
            run = report.fit([*overrides, f"seed={seed}"], report.runs() / f"{model}_{seed}")
            result.setdefault(model, []).append(run.metrics)
            if model == "autoencoder":
                autoencoders.append(run)
        runs = result[model]
        rows += [
            [model, data, key, band(r[key] for r in runs), band(r["fit_seconds"] for r in runs)] for key in metrics
        ]
    report.table(["model", "data", "metric", "value", "training seconds"], rows)
    for model, (_, _, picture, caption) in TASKS.items():
        report.image(report.runs() / f"{model}_{report.seeds[0]}" / picture, f"{model}: {caption}")
    ae, seg, det, cap = ({k: [r[k] for r in result[m]] for k in result[m][0]} for m in TASKS)
    report.verdict(
        "an autoencoder finds structure without labels (k-NN in its 2-D code beats PCA's 2-D by 0.10 or more)",
        mean(ae["test/knn_acc"]) >= mean(ae["test/pca_knn_acc"]) + 0.10,
        f"5-NN accuracy {band(ae['test/knn_acc'])} in the code, {band(ae['test/pca_knn_acc'])} in PCA's projection",
        key="autoencoder_structure",
    )
    clustering(report, autoencoders)
    report.verdict(
        "segmentation labels every pixel (mean IoU over background and the 10 digits >= 0.80)",
        mean(seg["test/miou"]) >= 0.80,
        f"mIoU {band(seg['test/miou'])}, pixel accuracy {band(seg['test/pixel_acc'])}",
        key="segmentation",
    )
    report.verdict(
        "detection finds and names each object (mAP at IoU 0.5 >= 0.85)",
        mean(det["test/map50"]) >= 0.85,
        f"mAP@0.5 {band(det['test/map50'])}, mAP@0.5:0.95 {band(det['test/map'])}",
        key="detection",
    )
    report.verdict(
        "captioning turns an image into a sentence (>= 75 % exactly right, BLEU-4 >= 0.8)",
        mean(cap["test/exact"]) >= 0.75 and mean(cap["test/bleu4"]) >= 0.8,
        f"exactly right {band(cap['test/exact'])}, BLEU-4 {band(cap['test/bleu4'])}",
        key="captioning",
    )
    report.write()


@torch.no_grad()
def clustering(report: Report, runs: list) -> None:
    """k-means with 10 clusters on the test digits: in the autoencoder's 2-D code, in PCA's 2-D, on the pixels."""
    from sklearn.cluster import KMeans
    from sklearn.decomposition import PCA
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    scores = {"autoencoder's 2-D code": [], "PCA's 2-D projection": [], "the 64 pixels": []}
    nmi = {k: [] for k in scores}
    for seed, run in zip(report.seeds, runs):
        train, test = run.datamodule.splits["train"], run.datamodule.splits["test"]
        net = run.model.net.eval()
        pca = PCA(2, random_state=0).fit(train.x.flatten(1).numpy())
        spaces = [net.encode(test.x).numpy(), pca.transform(test.x.flatten(1).numpy()), test.x.flatten(1).numpy()]
        for name, points in zip(scores, spaces):
            found = KMeans(10, n_init=10, random_state=seed).fit_predict(points)
            scores[name].append(adjusted_rand_score(test.y.numpy(), found))
            nmi[name].append(normalized_mutual_info_score(test.y.numpy(), found))
    report.text(
        "## Clustering without labels",
        "k-means (10 clusters) on the test digits in three spaces; how well the clusters match the digits the "
        "autoencoder never saw: adjusted Rand index (0: chance, 1: the same partition) and normalised mutual "
        "information.",
    )
    report.table(["space", "adjusted Rand index", "NMI"], [[k, band(scores[k]), band(nmi[k])] for k in scores])
    code, projected = mean(scores["autoencoder's 2-D code"]), mean(scores["PCA's 2-D projection"])
    report.verdict(
        "unsupervised learning clusters: k-means in the autoencoder's 2-D code finds the digits better than in "
        "PCA's 2-D projection (a higher adjusted Rand index)",
        code > projected,
        ", ".join(f"{k} {band(v)}" for k, v in scores.items()),
        key="clustering",
    )
