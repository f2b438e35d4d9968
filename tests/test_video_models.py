"""Video models and the physics metric of ball videos (issue 28): known answers on true clips, the video DiT in the
denoiser contract, continuation by imputation along time and by trained frame conditioning, the CLI branches."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from genlab.data.balls import load_balls
from genlab.metrics import physics


@pytest.fixture(scope="module")
def uniform():
    return load_balls("balls", n_train=8, n_test=40, seed=3)


def test_parser_floor_is_small_on_true_clips(uniform):
    st = uniform.info["states_test"]
    centres = physics.parse_centres(uniform.test, 1)
    err = np.linalg.norm(centres - st["positions"].numpy(), axis=-1)
    assert np.nanmean(err) < 0.01  # world units; a pixel is 0.31
    floor = physics.summarize(physics.clip_velocity_error(uniform.test, st["velocities"], 3, "uniform"))
    assert floor["mean"] < 0.01 and floor["failed"] <= 0.15  # speeds are 1-4


def test_copy_last_error_is_the_true_speed(uniform):
    st = uniform.info["states_test"]
    err = physics.clip_velocity_error(physics.copy_last(uniform.test, 3), st["velocities"], 3, "uniform")
    speed = st["velocities"][:, 0, 0].norm(dim=-1).numpy()
    ok = np.isfinite(err)
    assert ok.mean() >= 0.85  # balls that touch the frame's edge are not parsed
    np.testing.assert_allclose(err[ok], speed[ok], atol=1e-9)  # a still ball: |0 - v| = |v|


def test_constant_velocity_is_exact_for_uniform_motion(uniform):
    st = uniform.info["states_test"]
    true_centres = st["positions"].numpy()
    extrapolated = physics.constant_velocity(true_centres, 3, true_centres.shape[1])
    np.testing.assert_allclose(extrapolated, true_centres[:, 3:], atol=1e-9)
    err = physics.velocity_errors(extrapolated, st["velocities"][:, 3:], "uniform")
    assert np.nanmax(err) < 1e-9
    parsed = physics.summarize(physics.velocity_errors(physics.baseline_centres(uniform.test, 3, "uniform")
                                                       ["constant_velocity"], st["velocities"][:, 3:], "uniform"))
    assert parsed["mean"] < 0.05  # from three parsed frames: the parser's error / (2 DT)-ish


@pytest.mark.parametrize("scenario", ["collision", "parabola"])
def test_velocity_of_true_states_is_exact(scenario):
    """From the true centres the estimator recovers the true velocities: lines around the collision, the parabola's
    derivative; copy-last and constant velocity are far off (collisions and gravity)."""
    ds = load_balls(f"balls_{scenario}", n_train=2, n_test=20, seed=1)
    st = ds.info["states_test"]
    err = physics.velocity_errors(st["positions"].numpy()[:, 3:], st["velocities"][:, 3:], scenario)
    assert np.nanmax(err) < 1e-6
    floor = physics.summarize(physics.clip_velocity_error(ds.test, st["velocities"], 3, scenario))
    base = physics.baseline_centres(ds.test, 3, scenario)
    cv = physics.summarize(physics.velocity_errors(base["constant_velocity"], st["velocities"][:, 3:], scenario))
    assert floor["mean"] < 0.1 and cv["mean"] > 10 * floor["mean"]


def test_two_balls_are_told_apart_by_intensity():
    ds = load_balls("balls_collision", n_train=2, n_test=10, seed=2)
    st = ds.info["states_test"]
    swapped = physics.parse_centres(ds.test, 2)[..., ::-1, :]
    right = np.nanmedian(np.linalg.norm(physics.parse_centres(ds.test, 2) - st["positions"].numpy(), axis=-1))
    wrong = np.nanmedian(np.linalg.norm(swapped - st["positions"].numpy(), axis=-1))
    assert right < 0.02 and wrong > 1.0


# ---------------------------------------------------------------------------------------------- the video backbone
@pytest.fixture(scope="module")
def tiny():
    return load_balls("balls", n_train=64, n_test=16, seed=0, size=16, frames=8)


# intensities in [0, 1] as they are: per-pixel standardisation blows up pixels that training balls rarely visit
FAST = {"patience": 0, "noise_floor": 0, "normalize": False, "batch_size": 16, "backbone": "video_dit",
        "backbone_options": {"patch": 4, "hidden": 32, "depth": 1, "heads": 2}}


@pytest.mark.parametrize("attention", ["factorised", "joint"])
def test_video_dit_mixes_space_and_time(attention):
    """Every output patch depends on every input frame and on other patches of its frame (attention across both)."""
    from genlab.nn.video_dit import VideoDiT

    g = torch.Generator().manual_seed(0)
    net = VideoDiT((8, 1, 16, 16), hidden=32, depth=1, heads=2, attention=attention)
    for p in net.parameters():  # leave adaLN-Zero's identity start
        torch.nn.init.normal_(p, std=0.2, generator=g)
    x = torch.randn(1, 8, 1, 16, 16, generator=g).requires_grad_(True)
    net(x, torch.ones(1))[0, 0, 0, :4, :4].sum().backward()  # one patch of the first frame
    g = x.grad[0, :, 0].abs()
    assert (g.flatten(1).sum(1) > 0).all()  # every frame reaches it
    assert g[0, 8:, 8:].sum() > 0  # another patch of the same frame reaches it


@pytest.mark.parametrize("tubelet,patch,channels", [(1, 4, 1), (2, 2, 3)])
def test_video_dit_unpatchify_inverts_the_patch_embedding(tubelet, patch, channels):
    """With the patch embedding set to copy each patch into its token, the zero-initialised blocks (identities), no
    position embedding, no final norm and an identity head, the network returns its input exactly."""
    from genlab.nn.video_dit import VideoDiT

    shape = (4, channels, 8, 8)
    hid = tubelet * patch * patch * channels
    net = VideoDiT(shape, patch=patch, tubelet=tubelet, hidden=hid, heads=1, depth=1)
    w = torch.zeros(hid, channels, tubelet, patch, patch)
    for k, (q, i, j, c) in enumerate(np.ndindex(tubelet, patch, patch, channels)):  # the head's (q, i, j, c) order
        w[k, c, q, i, j] = 1
    with torch.no_grad():
        net.embed_x.weight.copy_(w)
        net.pos.zero_()
        net.head.weight.copy_(torch.eye(hid))
    net.norm = torch.nn.Identity()
    x = torch.randn(2, *shape, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(net(x, torch.ones(2)), x)


@pytest.mark.parametrize("family", ["edm", "flow_matching"])
def test_video_dit_trains_and_samples(tiny, family):
    import genlab
    from genlab.rng import make_generator

    def held_out_loss(model):  # the same rows, levels and noise for both models
        z = model.normalizer(tiny.test.reshape(len(tiny.test), -1)).repeat(8, 1)
        with torch.no_grad():
            return float(model.loss(z, None, generator=make_generator(0)).mean())

    extra = {"sigma_data": 0.25} if family == "edm" else {}
    m = genlab.create(family, tiny, lr=3e-3, **FAST, **extra).fit(tiny.train, steps=1, progress=False)
    before = held_out_loss(m)
    m = genlab.create(family, tiny, lr=3e-3, **FAST, **extra).fit(tiny.train, steps=40, progress=False)
    assert held_out_loss(m) < 0.8 * before
    s = m.sample(3, seed=0, steps=4)
    assert s.shape == (3, 8, 1, 16, 16) and torch.isfinite(s).all()


def test_denoiser_contract_with_edm_preconditioning(tiny):
    """D(x; sigma) -> x as sigma -> 0 (c_skip -> 1, c_out -> 0) for the trained video network."""
    import genlab

    m = genlab.create("edm", tiny, **FAST).fit(tiny.train, steps=5, progress=False)
    x = m.normalizer(tiny.test.reshape(len(tiny.test), -1))
    gaps = []
    for s in (1e-1, 1e-2, 1e-3):
        with torch.no_grad():
            d = m._denoise(x, torch.full((len(x),), s), None)
        gaps.append(float((d - x).abs().max()))
    assert gaps[2] < 2e-2 and gaps[2] < gaps[1] < gaps[0]


# ---------------------------------------------------------------------------------- continuation from given frames
def test_imputation_along_time_keeps_the_given_frames(tiny):
    import genlab
    from genlab.apps.video import continue_clips, frame_mask

    m = genlab.create("edm", tiny, **FAST).fit(tiny.train, steps=3, progress=False)
    mask = frame_mask((2, 8, 1, 16, 16), 3)
    assert mask[:, :3].all() and not mask[:, 3:].any()
    out = continue_clips(m, tiny.test[:2], 3, steps=3)
    assert torch.equal(out[:, :3], tiny.test[:2, :3])
    assert (out[:, 3:] - tiny.test[:2, 3:]).abs().max() > 0  # the rest is generated, not copied
    with pytest.raises(Exception, match="given frames must be"):
        continue_clips(m, tiny.test[:2], 8)


def test_frame_conditioning_trains_only_on_the_rest(tiny):
    """edm_frames: the given frames enter clean and carry no loss, so the loss's gradient never reaches the network's
    output there; the network sees the given-frame channel; continuations keep the given frames and reload alike."""
    import genlab
    from genlab.apps.video import continue_clips
    from genlab.rng import make_generator

    opts = FAST["backbone_options"]
    m = genlab.create("edm_frames", tiny, backbone_options=opts, batch_size=16)
    assert m.net.backbone.embed_x.in_channels == 2
    z = tiny.train[:4].reshape(4, -1)
    out = {}

    def grab(module, inputs, output):
        output.retain_grad()
        out["f"] = output

    hook = m.net.register_forward_hook(grab)
    m.loss(z, None, generator=make_generator(0)).sum().backward()
    hook.remove()
    g = out["f"].grad.reshape(4, 8, -1)
    assert g[:, :3].abs().max() == 0 and g[:, 3:].abs().max() > 0
    m.fit(tiny.train, steps=3, progress=False)
    a = continue_clips(m, tiny.test[:2], 3, steps=3, seed=1)
    assert torch.equal(a[:, :3], tiny.test[:2, :3])
    with pytest.raises(Exception, match="trained to continue 3"):
        continue_clips(m, tiny.test[:2], 2)
    with pytest.raises(Exception, match="continues clips"):
        m.sample(2)


# ---------------------------------------------------------------------------------------------------- command line
@pytest.fixture(scope="module")
def video_run(tmp_path_factory):
    """A tiny edm_frames run on balls clips (16 x 1 x 32 x 32), saved as genlab train saves one."""
    import genlab
    from genlab.cli.rundir import save_run
    from genlab.data.kinds.video import write_video

    ds = genlab.datasets.load("balls", n_train=16, n_test=4)
    m = genlab.create("edm_frames", ds, batch_size=8, backbone_options={"patch": 8, "hidden": 16, "depth": 1,
                                                                         "heads": 2})
    m.fit(ds.train, steps=2, progress=False)
    run = tmp_path_factory.mktemp("video") / "run"
    save_run(run, m, {"data": "balls", "seed": 0, "model": "edm_frames"})
    write_video(ds.test[0], run.parent / "clip.gif")
    write_video(ds.test[0][:, :, :16, :16], run.parent / "small.gif")
    write_video(ds.test[0][:2], run.parent / "short.gif")
    (run.parent / "broken.gif").write_bytes(b"not a gif")
    return run


def test_cli_continues_a_clip(video_run, capsys):

    from genlab.cli import main
    from genlab.data.kinds.video import read_video

    d = video_run.parent
    assert main(["sample", str(video_run), "--given-frames", "3", "--input", str(d / "clip.gif"), "--out",
                 str(d / "out.gif"), "--steps", "3", "--quiet"]) == 0
    clip, out = read_video(d / "clip.gif"), read_video(d / "out.gif")
    assert out.shape == (16, 3, 32, 32)
    assert np.abs(out[:3] - clip[:3]).max() <= 1 / 255  # the given frames, as read
    for args, words in ((["--given-frames", "5", "--input", str(d / "short.gif")], "nothing to generate"),
                        (["--given-frames", "3", "--input", str(d / "small.gif")], "16x16"),
                        (["--given-frames", "3", "--input", str(d / "broken.gif")], "could not read")):
        capsys.readouterr()
        assert main(["sample", str(video_run), *args, "--out", str(d / "x.gif")]) == 2
        err = capsys.readouterr().err.strip()
        assert words in err and len(err.splitlines()) == 1 and not (d / "x.gif").exists()


def test_cli_continues_the_runs_own_test_clips_without_input(video_run):
    """``--given-frames K -n 2`` without ``--input``: the first 2 test clips of the run's data set (its name and seed
    from train.json), continued and written side by side; the given frames are those clips' frames."""
    import genlab
    from genlab.cli import main
    from genlab.data.kinds.video import read_video

    out = video_run.parent / "own.gif"
    assert main(["sample", str(video_run), "--given-frames", "3", "-n", "2", "--out", str(out), "--steps", "3",
                 "--quiet"]) == 0
    made = read_video(out)
    assert made.shape == (16, 3, 32, 64)
    test = genlab.datasets.load("balls", seed=0).test[:2].numpy()
    for i in range(2):
        panel = made[:3, :, :, 32 * i : 32 * (i + 1)].mean(1)
        assert np.abs(panel - test[i, :3, 0]).max() <= 2 / 255


def test_cli_eval_prints_the_velocity_errors(video_run, capsys):
    import json

    from genlab.cli import main

    capsys.readouterr()
    assert main(["eval", str(video_run), "--json", "--n-test", "3"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    for key in ("velocity_error_id", "velocity_error_ood", "parser_floor", "copy_last", "constant_velocity"):
        assert key in result
    assert result["parser_floor"] < 0.05 < result["copy_last"]
    assert set(result["per_scenario"]["uniform"]) >= {"id", "ood_velocity", "ood_radius", "baselines"}
