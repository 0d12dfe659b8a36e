"""Sections "Supervised vs unsupervised learning" to "CVF": GANs, normalizing flows, outlier detection."""

from __future__ import annotations

from sections.common import Report, history

OOD_SETS = ["noise", "flip", "invert"]
# At the smoke scale (the tests) every run is cut down to seconds; the other scales run the presets.
SMOKE = {
    "gan": ["data.n_samples=1000"],
    "dcgan": ["model.features=16", "model.feature_epochs=1"],
    "moons": ["data.n_samples=600", "model.gmm_components=2"],
    "digits": ["model.hidden=8"],
}


def gan_on_the_ring(report: Report, epochs: int, extra: list[str]) -> None:
    rows = {}
    for loss in ("non_saturating", "minimax"):
        run = report.runs() / f"gan_{loss}"
        metrics = report.train(
            ["model=gan", "data=ring", f"model.generator_loss={loss}", f"trainer.max_epochs={epochs}", *extra], run
        )
        rows[loss] = [loss, metrics["test/modes"], metrics["test/hq"], metrics["test/fd"], metrics["fit_seconds"]]
        if loss == "non_saturating":
            report.text(f"## GAN on the ring of 8 Gaussians ({epochs} epochs, MLP G and D, Adam 1e-3)")
            report.image(run / "samples.png", "samples of the best checkpoint (red) over the data (blue)")
    report.table(
        ["generator loss", "modes covered (of 8)", "high-quality samples", "Fréchet distance", "seconds"],
        list(rows.values()),
    )
    report.text(
        "A sample is high quality within 3 standard deviations of a mode; a mode is covered when it holds "
        "at least 1% of 2500 samples. `minimax` is the slide's objective for G, log(1 - D(G(z)))."
    )
    _, modes, hq, _, _ = rows["non_saturating"]
    report.verdict(
        "a GAN learns the ring: >= 7 of 8 modes, >= 80% high-quality samples",
        modes >= 7 and hq >= 0.8,
        f"{modes:.0f} modes, {hq:.1%} high quality",
    )
    minimax = rows["minimax"]
    report.verdict(
        "the non-saturating generator loss trains at least as well as the slide's minimax loss",
        (modes, hq) >= (minimax[1], minimax[2] - 0.02),
        f"non-saturating {modes:.0f} modes / {hq:.1%}, minimax {minimax[1]:.0f} modes / {minimax[2]:.1%}",
    )


def dcgan_on_digits(report: Report, epochs: int, extra: list[str]) -> None:
    run = report.runs() / "dcgan"
    metrics = report.train(["model=dcgan", "data=digits", f"trainer.max_epochs={epochs}", *extra], run)
    fd = history(run)["val/fd"][:-1]  # the last entry is the best checkpoint's re-validation
    report.text(
        f"## DCGAN on digits ({epochs} epochs)",
        "Fréchet distance between 2000 samples and the held-out digits, in the 128 features of a small "
        "CNN trained on the training digits (the offline stand-in for FID).",
    )
    report.table(
        ["epoch", "Fréchet distance"], [[e + 1, fd[e]] for e in sorted({0, len(fd) // 4, len(fd) // 2, len(fd) - 1})]
    )
    report.image(
        run / "samples.png", f"DCGAN samples (best checkpoint, test Fréchet distance {metrics['test/fd']:.1f})"
    )
    report.image(run / "frechet_distance.png", "Fréchet distance per epoch")
    report.verdict(
        "DCGAN samples move towards the data as training goes on",
        min(fd) < fd[0] / 2,
        f"Fréchet distance {fd[0]:.1f} after epoch 1, best {min(fd):.1f}",
    )


def flow_on_moons(report: Report, epochs: int, extra: list[str], seeds: tuple[int, ...]) -> None:
    """The flow against a Gaussian mixture on the same points, over several seeds of data and training."""
    rows, gaps = [], []
    for seed in seeds:
        run = report.runs() / f"realnvp_moons_{seed}"
        overrides = ["model=realnvp", "data=moons", f"trainer.max_epochs={epochs}", f"seed={seed}", f"data.seed={seed}"]
        metrics = report.train([*overrides, *extra], run)
        gaps.append(metrics["test/gmm_nll"] - metrics["test/nll"])
        rows.append([seed, metrics["test/nll"], metrics["test/gmm_nll"], gaps[-1]])
    report.text(f"## RealNVP on two moons ({epochs} epochs): exact likelihood by the change of variables")
    report.table(
        [
            "seed (data and training)",
            "RealNVP, 8 affine couplings",
            "Gaussian mixture, 10 components",
            "mixture - flow",
        ],
        rows,
    )
    report.image(
        report.runs() / f"realnvp_moons_{seeds[0]}" / "density.png", "the flow's density p(x), training points"
    )
    report.image(report.runs() / f"realnvp_moons_{seeds[0]}" / "samples.png", "samples x = f^-1(z)")
    report.verdict(
        f"the flow fits moons better than a 10-component Gaussian mixture (in each of {len(seeds)} seeds)",
        min(gaps) > 0,
        f"test NLL of the mixture minus the flow's, nats: {', '.join(f'{g:+.3f}' for g in gaps)}",
    )


SCORES = ["likelihood", "complexity", "ratio", "typicality"]


def flows_on_digits(report: Report, name: str, overrides: list[str], outlier_sets: list[str]) -> tuple[dict, dict]:
    """A flow, a background flow on perturbed digits (Ren et al.), and every outlier score of the flow."""
    run, background = report.runs() / name, report.runs() / f"{name}_background"
    metrics = report.train(overrides, run)
    report.train([*overrides, "model.perturb=0.2"], background)
    ood = report.evaluate(
        [
            f"ckpt_path={run}/checkpoints/best.ckpt",
            f"ood=[{','.join(outlier_sets)}]",
            f"ood_scores=[{','.join(SCORES)}]",
            f"ood_background={background}/checkpoints/best.ckpt",
        ],
        report.runs() / f"ood_{name}",
    )
    return metrics, ood


def flow_on_digits(report: Report, epochs: int, extra: list[str]) -> None:
    base = ["model=realnvp", "data=digits", f"trainer.max_epochs={epochs}", *extra]
    metrics, ood = flows_on_digits(report, "realnvp_digits", base, OOD_SETS)
    _, held = flows_on_digits(report, "realnvp_digits_0to8", [*base, "data.classes=[0,1,2,3,4,5,6,7,8]"], ["heldout"])
    run = report.runs() / "realnvp_digits"
    report.text(
        f"## RealNVP on digits ({epochs} epochs, multi-scale: checkerboard, squeeze, channel-wise couplings)",
        f"Test: {metrics['test/bpd']:.3f} bits per dimension ({metrics['test/nll']:.1f} nats per image; "
        f"uniform over 17 grey levels would be 4.09 bits).",
    )
    report.image(run / "samples.png", "samples, temperature 1")
    auroc = {name: ood for name in OOD_SETS} | {"heldout": held}
    label = {"noise": "uniform noise", "flip": "mirrored digits", "invert": "inverted digits"}
    label["heldout"] = "digit 9, flows trained on 0-8 (every nine)"
    report.text(
        '## Outlier detection by likelihood (slide "Why generative models? Outlier detection")',
        f"In-distribution test digits: {ood['ood/test/bpd']:.3f} bits per dimension. AUROC 1 = every outlier "
        "scores worse than every test digit, 0.5 = chance. Likelihood: bits per dimension. Complexity "
        "(Serra et al. 2020): minus DEFLATE's bits per dimension of the image. Ratio (Ren et al. 2019): minus "
        "the bits per dimension of a background flow trained on digits with 20% of pixels replaced by noise. "
        "Typicality (Nalisnick et al. 2019b): a test of batches of 10 inputs, the distance of their mean bits "
        "per dimension from the validation digits' mean; its AUROC is over 1000 batches from each side.",
    )
    report.table(
        ["outlier set", "bits per dimension", *(f"AUROC, {score}" for score in SCORES)],
        [
            [label[name], auroc[name][f"ood/{name}/bpd"], *(auroc[name][f"ood/{name}/auroc_{s}"] for s in SCORES)]
            for name in [*OOD_SETS, "heldout"]
        ],
    )
    report.image(report.runs() / "ood_realnvp_digits" / "ood_histograms.png", "each score, test digits and outliers")
    report.image(report.runs() / "ood_realnvp_digits_0to8" / "ood_histograms.png", "each score, unseen nines")
    report.verdict(
        "a flow's likelihood tells digits from uniform noise (AUROC >= 0.95)",
        ood["ood/noise/auroc_likelihood"] >= 0.95,
        f"AUROC {ood['ood/noise/auroc_likelihood']:.3f}",
    )
    per_input = {s: min(ood[f"ood/flip/auroc_{s}"], held[f"ood/heldout/auroc_{s}"]) for s in SCORES[:3]}
    best = max(per_input, key=per_input.get)
    report.verdict(
        "one input at a time, a likelihood score tells mirrored digits and an unseen digit (AUROC >= 0.85 "
        "on both, the best of likelihood, complexity and ratio)",
        per_input[best] >= 0.85,
        ", ".join(
            f"{s}: mirrored {ood[f'ood/flip/auroc_{s}']:.3f}, unseen 9 {held[f'ood/heldout/auroc_{s}']:.3f}"
            for s in SCORES[:3]
        ),
    )
    report.verdict(
        "a batch of 10 mirrored digits or unseen nines is atypical under the flow (typicality AUROC >= 0.85)",
        min(ood["ood/flip/auroc_typicality"], held["ood/heldout/auroc_typicality"]) >= 0.85,
        f"mirrored {ood['ood/flip/auroc_typicality']:.3f}, unseen 9 {held['ood/heldout/auroc_typicality']:.3f}",
    )


def main(scale: str) -> None:
    report = Report("generative", "Generative models: GAN, DCGAN, RealNVP and outlier detection", scale)
    epochs = {"smoke": 1, "default": 60, "paper": 200}[scale]
    extra = SMOKE if scale == "smoke" else {}
    gan_on_the_ring(report, epochs, extra.get("gan", []))
    dcgan_on_digits(report, max(epochs, 2), extra.get("dcgan", []))
    flow_on_moons(report, epochs, extra.get("moons", []), seeds=(0,) if scale == "smoke" else (0, 1, 2))
    flow_on_digits(report, epochs, extra.get("digits", []))
    report.write()
