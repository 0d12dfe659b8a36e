"""Section "Beyond Classification" (with the autoencoder of the overview and "Supervised vs Unsupervised
Learning"): structure without labels, a class per pixel, a box per object, a sentence per image.
"""

from __future__ import annotations

from sections.common import Report

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
        "their pixel masks, boxes and captions; the test scenes use digit images no training scene uses)."
    )
    rows, result = [], {}
    for model, (data, metrics, _, _) in TASKS.items():
        overrides = [f"model={model}", f"data={data}"]
        if scale == "smoke":
            overrides += ["trainer.max_epochs=1"] + (SMOKE_SCENES if data == "scenes" else [])
        result[model] = report.train(overrides, report.runs() / model)
        rows += [[model, data, key, result[model][key], result[model]["fit_seconds"]] for key in metrics]
    report.table(["model", "data", "metric", "value", "training seconds"], rows)
    for model, (_, _, picture, caption) in TASKS.items():
        report.image(report.runs() / model / picture, f"{model}: {caption}")
    ae, seg, det, cap = (result[m] for m in TASKS)
    report.verdict(
        "an autoencoder finds structure without labels (k-NN in its 2-D code beats PCA's 2-D by 0.10 or more)",
        ae["test/knn_acc"] >= ae["test/pca_knn_acc"] + 0.10,
        f"5-NN accuracy {ae['test/knn_acc']:.3f} in the code, {ae['test/pca_knn_acc']:.3f} in PCA's projection",
    )
    report.verdict(
        "segmentation labels every pixel (mean IoU over background and the 10 digits >= 0.80)",
        seg["test/miou"] >= 0.80,
        f"mIoU {seg['test/miou']:.3f}, pixel accuracy {seg['test/pixel_acc']:.3f}",
    )
    report.verdict(
        "detection finds and names each object (mAP at IoU 0.5 >= 0.85)",
        det["test/map50"] >= 0.85,
        f"mAP@0.5 {det['test/map50']:.3f}, mAP@0.5:0.95 {det['test/map']:.3f}",
    )
    report.verdict(
        "captioning turns an image into a sentence (>= 75 % exactly right, BLEU-4 >= 0.8)",
        cap["test/exact"] >= 0.75 and cap["test/bleu4"] >= 0.8,
        f"{cap['test/exact']:.1%} exactly right, BLEU-4 {cap['test/bleu4']:.3f}",
    )
    report.write()
