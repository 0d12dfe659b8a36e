"""Sections "Supervised vs unsupervised learning" to "CVF": GANs, normalizing flows, outlier detection."""

from __future__ import annotations

import torch

from sections.common import Report, band, history, mean
from zoo.run_folder import RunFolder

OOD_SETS = ["noise", "flip", "invert"]
# At the smoke scale (the tests) every run is cut down to seconds; the other scales run the presets.
SMOKE = {
    "gan": ["data.n_samples=1000"],
    "dcgan": ["model.features=16", "model.feature_epochs=1"],
    "moons": ["data.n_samples=600", "model.gmm_components=2"],
    "digits": ["model.hidden=8"],
}


def gan_on_the_ring(report: Report, epochs: int, extra: list[str]) -> None:
    found = {}
    for loss in ("non_saturating", "minimax"):
        for seed in report.seeds:
            run = report.runs() / f"gan_{loss}_{seed}"
            overrides = ["model=gan", "data=ring", f"model.generator_loss={loss}", f"trainer.max_epochs={epochs}"]
            metrics = report.train([*overrides, f"seed={seed}", *extra], run)
            found.setdefault(loss, []).append(metrics)
            if loss == "non_saturating" and seed == report.seeds[0]:
                report.text(f"## GAN on the ring of 8 Gaussians ({epochs} epochs, MLP G and D, Adam 1e-3)")
                report.image(run / "samples.png", "samples of the best checkpoint (red) over the data (blue)")
    pick = lambda loss, key: [m[key] for m in found[loss]]  # noqa: E731
    report.table(
        ["generator loss", "modes covered (of 8)", "high-quality samples", "Fréchet distance", "seconds"],
        [[loss, *(band(pick(loss, k)) for k in ("test/modes", "test/hq", "test/fd", "fit_seconds"))] for loss in found],
    )
    report.text(
        "A sample is high quality within 3 standard deviations of a mode; a mode is covered when it holds "
        f"at least 1% of 2500 samples. `minimax` is the slide's objective for G, log(1 - D(G(z))). Seeds "
        f"{', '.join(map(str, report.seeds))}."
    )
    modes, hq = mean(pick("non_saturating", "test/modes")), mean(pick("non_saturating", "test/hq"))
    report.verdict(
        "a GAN learns the ring: >= 7 of 8 modes, >= 80% high-quality samples (means over seeds)",
        modes >= 7 and hq >= 0.8,
        f"modes {band(pick('non_saturating', 'test/modes'))}, high quality {band(pick('non_saturating', 'test/hq'))}",
        key="gan_ring",
        conditions="the non-saturating generator loss, -log D(G(z)), not the slide's minimax",
    )
    mm_modes, mm_hq = mean(pick("minimax", "test/modes")), mean(pick("minimax", "test/hq"))
    report.verdict(
        "the non-saturating generator loss trains at least as well as the slide's minimax loss (mean modes, then "
        "mean high-quality share within 0.02)",
        (modes, hq) >= (mm_modes, mm_hq - 0.02),
        f"non-saturating {modes:.1f} modes / {hq:.1%}, minimax {mm_modes:.1f} modes / {mm_hq:.1%}",
        key="nonsaturating",
    )
    report.verdict(
        "the slide's minimax objective itself learns the ring: >= 7 of 8 modes, >= 80% high-quality samples",
        mm_modes >= 7 and mm_hq >= 0.8,
        f"modes {band(pick('minimax', 'test/modes'))}, high quality {band(pick('minimax', 'test/hq'))}",
        key="gan_ring_minimax",
    )


def dcgan_on_digits(report: Report, epochs: int, extra: list[str]) -> None:
    first, best, tests = [], [], []
    for seed in report.seeds:
        run = report.runs() / f"dcgan_{seed}"
        metrics = report.train(
            ["model=dcgan", "data=digits", f"trainer.max_epochs={epochs}", f"seed={seed}", *extra], run
        )
        fd = history(run)["val/fd"][:-1]  # the last entry is the best checkpoint's re-validation
        first.append(fd[0])
        best.append(min(fd))
        tests.append(metrics["test/fd"])
    run = report.runs() / f"dcgan_{report.seeds[0]}"
    report.text(
        f"## DCGAN on digits ({epochs} epochs, seeds {', '.join(map(str, report.seeds))})",
        "Fréchet distance between 2000 samples and the held-out digits, in the 128 features of a small "
        "CNN trained on the training digits (the offline stand-in for FID).",
    )
    report.table(["Fréchet distance", "after epoch 1", "best epoch", "test (best checkpoint)"],
                 [["mean over seeds", band(first), band(best), band(tests)]])  # fmt: skip
    report.image(run / "samples.png", "DCGAN samples (best checkpoint, first seed)")
    report.image(run / "frechet_distance.png", "Fréchet distance per epoch")
    report.verdict(
        "DCGAN samples move towards the data as training goes on (the best epoch's Fréchet distance is under half "
        "the first epoch's, in every seed)",
        all(b < f / 2 for f, b in zip(first, best)),
        f"after epoch 1 {band(first)}, best {band(best)}",
        key="dcgan_improves",
    )


def flow_on_moons(report: Report, epochs: int, extra: list[str], seeds: tuple[int, ...]) -> None:
    """The flow against a Gaussian mixture on the same points, over several seeds of data and training."""
    rows, gaps, flows = [], [], []
    for seed in seeds:
        run = report.runs() / f"realnvp_moons_{seed}"
        overrides = ["model=realnvp", "data=moons", f"trainer.max_epochs={epochs}", f"seed={seed}", f"data.seed={seed}"]
        trained = report.fit([*overrides, *extra], run)
        flows.append(trained.model.net)
        metrics = trained.metrics
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
        key="flow_vs_mixture",
    )
    change_of_variables(report, flows)


@torch.no_grad()
def change_of_variables(report: Report, flows: list[torch.nn.Module]) -> None:
    """log p_x(x) = log p_z(f(x)) + log |det df/dx|: the trained flows' densities against the formula, with the
    Jacobian's determinant computed by brute force (autograd's full Jacobian) instead of the couplings' sum."""
    worst, total = 0.0, 0.0
    for flow in flows:
        flow = flow.double().eval()
        x = torch.randn(64, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
        normal = torch.distributions.Normal(0.0, 1.0)
        for point in x:
            with torch.enable_grad():
                jacobian = torch.autograd.functional.jacobian(lambda v, f=flow: f(v.view(1, 2))[0].flatten(), point)
            z, _ = flow(point.view(1, 2))
            by_formula = normal.log_prob(z).sum() + torch.linalg.slogdet(jacobian)[1]
            worst = max(worst, abs(float(flow.log_prob(point.view(1, 2))[0] - by_formula)))
            total += 1
        flow.float()
    report.text(
        "## The change of variables, checked on the trained flows",
        f"{int(total)} points of the plane per trained moons flow: the flow's log-density against log p_z(f(x)) + "
        "log |det df/dx| with the determinant of autograd's full 2x2 Jacobian.",
    )
    report.verdict(
        "p_x(x) = p_z(f(x)) |det df/dx| (the flow's log-density equals the change of variables, to 1e-8)",
        worst < 1e-8,
        f"max |difference| {worst:.1e} nats over {int(total)} points and {len(flows)} flows",
        key="change_of_variables",
    )


def rare_cases(report: Report) -> None:
    """The slide's driving data: 95 % common (upright digits), 5 % edge cases (the same digits turned a quarter);
    a density model of the inputs finds the rare ones, and weighting them up in training helps on them."""
    from sklearn.decomposition import PCA
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.mixture import GaussianMixture

    from datamodules.digits import DigitsDataModule

    auroc, rare_acc, common_acc = [], {"as drawn": [], "reweighted": []}, {"as drawn": [], "reweighted": []}
    for seed in report.seeds:
        splits = DigitsDataModule(seed=seed).load()
        g = torch.Generator().manual_seed(seed)

        def mixed(split, share, splits=splits, g=g):
            x, y = splits[split].x, splits[split].y
            rare = torch.rand(len(y), generator=g) < share
            x = torch.where(rare[:, None, None, None], x.rot90(1, (2, 3)), x)
            return x.flatten(1).numpy(), y.numpy(), rare.numpy()

        x, y, rare = mixed("train", 0.05)
        x_test, y_test, rare_test = mixed("test", 0.5)
        pca = PCA(20, random_state=seed).fit(x)
        density = GaussianMixture(10, random_state=seed).fit(pca.transform(x))
        surprise = -density.score_samples(pca.transform(x_test))
        auroc.append(roc_auc_score(rare_test, surprise))
        log_p = density.score_samples(pca.transform(x))
        weights = torch.tensor(log_p).neg().softmax(0).numpy() * len(log_p)  # proportional to 1 / p(x)
        weights = weights.clip(0.1, 10)
        for how, w in (("as drawn", None), ("reweighted", weights)):
            clf = LogisticRegression(max_iter=3000).fit(x, y, sample_weight=w)
            rare_acc[how].append(clf.score(x_test[rare_test], y_test[rare_test]))
            common_acc[how].append(clf.score(x_test[~rare_test], y_test[~rare_test]))
    report.text(
        "## Outlier detection: rare cases in the training data",
        "Digits where 5% of the training images are turned a quarter (the edge cases of a mostly sunny-highway "
        "data set), a test split half turned. A Gaussian mixture (10 components, on 20 principal components of "
        "the training images) is the density model; the classifier is logistic regression, trained as drawn and "
        "with each training image weighted by 1 / p(x) (clipped to 0.1-10). Seeds "
        f"{', '.join(map(str, report.seeds))}.",
    )
    report.table(["training", "accuracy on the rare (turned) test digits", "on the common ones"],
                 [[k, band(rare_acc[k]), band(common_acc[k])] for k in rare_acc])  # fmt: skip
    report.verdict(
        "a density model finds the rare cases (AUROC of -log p(x), turned against upright test digits, >= 0.9)",
        mean(auroc) >= 0.9,
        f"AUROC {band(auroc)}",
        key="rare_cases_found",
    )
    gain = mean(rare_acc["reweighted"]) - mean(rare_acc["as drawn"])
    cost = mean(common_acc["as drawn"]) - mean(common_acc["reweighted"])
    report.verdict(
        "using the outliers in training improves the model on them (weighting by 1 / p(x) raises the accuracy on "
        "the rare cases while the common ones lose at most 0.01)",
        gain > 0 and cost <= 0.01,
        f"rare: {band(rare_acc['as drawn'])} -> {band(rare_acc['reweighted'])}; common: "
        f"{band(common_acc['as drawn'])} -> {band(common_acc['reweighted'])}",
        key="rare_cases_reweighted",
    )


SCORES = ["likelihood", "complexity", "ratio", "typicality"]


def flows_on_digits(report: Report, name: str, overrides: list[str], outlier_sets: list[str]) -> tuple[dict, dict]:
    """A flow, a background flow on perturbed digits (Ren et al.), and every outlier score of the flow."""
    run, background = report.runs() / name, report.runs() / f"{name}_background"
    metrics = report.train(overrides, run)
    report.train([*overrides, "model.perturb=0.2"], background)
    ood = report.evaluate(
        [
            f"ckpt_path={RunFolder(run).best}",
            f"ood=[{','.join(outlier_sets)}]",
            f"ood_scores=[{','.join(SCORES)}]",
            f"ood_background={RunFolder(background).best}",
        ],
        report.runs() / f"ood_{name}",
    )
    return metrics, ood


def averaged(found: list[dict]) -> dict:
    """The mean over seeds of every number the runs measured."""
    return {k: mean(d[k] for d in found) for k, v in found[0].items() if isinstance(v, (int, float))}


def flow_on_digits(report: Report, epochs: int, extra: list[str]) -> None:
    base = ["model=realnvp", "data=digits", f"trainer.max_epochs={epochs}", *extra]
    oods, helds, trained, first = [], [], [], report.seeds[0]
    for seed in report.seeds:
        found = flows_on_digits(report, f"realnvp_digits_{seed}", [*base, f"seed={seed}"], OOD_SETS)
        trained.append(found[0])
        oods.append(found[1])
        nines = [*base, f"seed={seed}", "data.classes=[0,1,2,3,4,5,6,7,8]"]
        helds.append(flows_on_digits(report, f"realnvp_digits_0to8_{seed}", nines, ["heldout"])[1])
    ood, held, metrics = averaged(oods), averaged(helds), averaged(trained)
    run = report.runs() / f"realnvp_digits_{first}"
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
        "per dimension from the validation digits' mean; its AUROC is over 1000 batches from each side. Means "
        f"over seeds {', '.join(map(str, report.seeds))} (a flow and a background flow per seed).",
    )
    report.table(
        ["outlier set", "bits per dimension", *(f"AUROC, {score}" for score in SCORES)],
        [
            [label[name], auroc[name][f"ood/{name}/bpd"], *(auroc[name][f"ood/{name}/auroc_{s}"] for s in SCORES)]
            for name in [*OOD_SETS, "heldout"]
        ],
    )
    report.image(
        report.runs() / f"ood_realnvp_digits_{first}" / "ood_histograms.png", "each score, test digits and outliers"
    )
    report.image(report.runs() / f"ood_realnvp_digits_0to8_{first}" / "ood_histograms.png", "each score, unseen nines")
    report.verdict(
        "a flow's likelihood tells digits from uniform noise (AUROC >= 0.95)",
        ood["ood/noise/auroc_likelihood"] >= 0.95,
        f"AUROC {band(o['ood/noise/auroc_likelihood'] for o in oods)}",
        key="outlier_noise",
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
        key="outlier_per_input",
    )
    report.verdict(
        "a batch of 10 mirrored digits or unseen nines is atypical under the flow (typicality AUROC >= 0.85)",
        min(ood["ood/flip/auroc_typicality"], held["ood/heldout/auroc_typicality"]) >= 0.85,
        f"mirrored {band(o['ood/flip/auroc_typicality'] for o in oods)}, unseen 9 "
        f"{band(h['ood/heldout/auroc_typicality'] for h in helds)}",
        key="outlier_typicality",
    )


def main(scale: str) -> None:
    report = Report("generative", "Generative models: GAN, DCGAN, RealNVP and outlier detection", scale)
    epochs = {"smoke": 1, "default": 60, "paper": 200}[scale]
    extra = SMOKE if scale == "smoke" else {}
    gan_on_the_ring(report, epochs, extra.get("gan", []))
    dcgan_on_digits(report, max(epochs, 2), extra.get("dcgan", []))
    flow_on_moons(report, epochs, extra.get("moons", []), seeds=(0,) if scale == "smoke" else (0, 1, 2))
    flow_on_digits(report, epochs, extra.get("digits", []))
    rare_cases(report)
    report.write()
