"""The federation picture (cdk.out/federation.svg, docs/federation.svg in the README)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from flarectl.cli import main as flarectl
from flarectl.config import DEFAULT_FEDERATION
from flarectl.federation import Federation, load_federation
from flarectl.picture import clean, render_svg

SVG = "{http://www.w3.org/2000/svg}"
README_PICTURE = Path(__file__).parents[2] / "docs" / "federation.svg"


def texts(svg: str) -> list[str]:
    return [element.text or "" for element in ET.fromstring(svg).iter(f"{SVG}text")]


def boxes(svg: str) -> list[list[str]]:
    """The text lines of each box, in order (a box's first line is its title)."""
    found: list[list[str]] = []
    root = ET.fromstring(svg)
    for element in root:
        if element.tag == f"{SVG}rect" and element.get("rx"):
            found.append([])
        elif element.tag == f"{SVG}text" and found and element.get("x") != "20":
            found[-1].append(element.text or "")
    return found


def test_the_readmes_picture_is_the_default_federations() -> None:
    """docs/federation.svg (shown in the README) is what the embedded default renders to today."""
    assert README_PICTURE.read_text() == render_svg(load_federation(DEFAULT_FEDERATION))


def test_the_default_federation_shows_the_hub_every_site_and_who_dials_whom() -> None:
    svg = render_svg(load_federation(DEFAULT_FEDERATION))
    hub, *sites = boxes(svg)
    assert hub == [
        "Hub: FlareServerStack",
        "project cancer-fl, NVFlare 2.9.0",
        "AWS, the deploy's account and region, t3.medium",
        "dashboard: https://<the hub's Elastic IP>",
        "   TCP 443, certificate: self-signed",
        "FL server: <the hub's Elastic IP>:8002",
        "   mutual TLS with the project's root CA",
        "inbound 443 from 0.0.0.0/0",
        "inbound 8002 from 0.0.0.0/0",
        "jobs accepted from: project_admin,",
        "   lead of any organization",
    ]
    policy = ["jobs from: project_admin, lead of any organization", "custom code: yes; privacy: no scopes"]
    assert sites == [
        # The type offline synth chooses for one 15 GiB GPU (the built-in table's cheapest fit).
        [
            "gpu-site-1",
            "kind: aws",
            "AWS (deploy's account and region),",
            "   g4dn.xlarge (chosen for the GPUs)",
            "1 GPU(s), 15 GiB each",
            *policy,
        ],
        ["azure-site-1", "kind: azure", "Azure eastus, Standard_NC4as_T4_v3, subscription at deploy", "1 GPU(s), 15 GiB each", *policy],
        [
            "hpc-lab",
            "kind: slurm",
            "Slurm cluster, partition gpu (allocation): /shared/",
            "   nvflare/hpc-lab",
            "1 GPU(s), 44 GiB each",
            *policy,
        ],
        ["path-lab", "kind: linux", "Linux GPU server: /srv/nvflare/path-lab", "2 GPU(s), 22 GiB each", *policy],
        ["laptop-1", "kind: wsl", "Windows laptop, WSL 2: /home/researcher/nvflare/laptop-1", "1 GPU(s), 7 GiB each", *policy],
    ]
    root = ET.fromstring(svg)
    hub_rect = [r for r in root.iter(f"{SVG}rect") if r.get("rx")][0]
    hub_right = float(hub_rect.get("x", 0)) + float(hub_rect.get("width", 0))
    arrows = list(root.iter(f"{SVG}line"))
    assert [arrow.find(f"{SVG}title").text for arrow in arrows] == [  # type: ignore[union-attr]
        f"{name} dials out to the hub, TCP 8002" for name in ("gpu-site-1", "azure-site-1", "hpc-lab", "path-lab", "laptop-1")
    ]
    for arrow in arrows:  # every arrow starts at a site and ends, with its head, on the hub's edge
        assert float(arrow.get("x1", 0)) > hub_right and float(arrow.get("x2", 0)) == hub_right
        assert arrow.get("marker-end") == "url(#arrow)" and arrow.get("marker-start") is None
    assert "Sites dial out to the hub on TCP 8002 (mutual TLS); nothing dials in to a site." in texts(svg)


def test_dns_names_account_and_certificate_mode_are_drawn() -> None:
    federation = Federation.model_validate(
        {
            "project": "onco",
            "project_admin_email": "it@hospital.test",
            "aws": {"account": "123456789012", "region": "eu-central-1"},
            "hub": {"fl_port": 8443, "fl_cidrs": ["198.51.100.0/24", "203.0.113.0/24"]},
            "dns": {
                "hosted_zone_id": "Z0123456789ABCDEFGHIJ",
                "zone_name": "onco.example",
                "dashboard_name": "board.onco.example",
                "server_name": "fl.onco.example",
            },  # fmt: skip
            "certificate": {"mode": "letsencrypt"},
            "governance": {
                "default": {
                    "run_jobs": {"roles": ["lead"], "orgs": ["own"]},
                    "custom_code": False,
                    "privacy": {"default_scope": "std", "scopes": [{"name": "std"}, {"name": "raw"}]},
                },
                "hub": {"run_jobs": {"roles": ["lead"]}},
            },  # fmt: skip
            "sites": [{"name": "lab", "kind": "linux", "kit": "/k", "workdir": "/w", "gpus": 0}],
        }
    )
    svg = render_svg(federation)
    hub, site = boxes(svg)
    assert hub[2:] == [
        "AWS 123456789012 eu-central-1, t3.medium",
        "dashboard: https://board.onco.example",
        "   TCP 443, certificate: letsencrypt",
        "FL server: fl.onco.example:8443",
        "   mutual TLS with the project's root CA",
        "inbound 443 from 0.0.0.0/0",
        "inbound 8443 from 198.51.100.0/24, 203.0.113.0/24",
        "jobs accepted from: lead of any organization",
    ]
    assert site == ["lab", "kind: linux", "Linux GPU server: /w", "0 GPU(s)", "jobs from: lead of own",
                    "custom code: no; privacy: scopes std, raw (default std)"]  # fmt: skip


def test_text_is_escaped_cut_and_free_of_control_characters() -> None:
    # The models admit no markup in any drawn field today; the picture does not rely on that.
    assert clean("<script>&'\"\x01") == "&lt;script&gt;&amp;'\"?"
    assert clean("x" * 100) == "x" * 57 + "…"


def test_a_federation_without_sites_says_so() -> None:
    empty = render_svg(Federation.model_validate({"project": "p", "project_admin_email": "it@hospital.test"}))
    assert "no client sites in the federation file yet" in texts(empty) and not list(ET.fromstring(empty).iter(f"{SVG}line"))


def test_flarectl_picture_writes_the_file(tmp_path: Path) -> None:
    out = tmp_path / "federation.svg"
    assert flarectl(["picture", str(DEFAULT_FEDERATION), "-o", str(out)]) == 0
    hub, *sites = boxes(out.read_text())
    assert hub[0] == "Hub: FlareServerStack" and [site[0] for site in sites] == [
        "gpu-site-1",
        "azure-site-1",
        "hpc-lab",
        "path-lab",
        "laptop-1",
    ]


def test_long_paths_wrap_whole_and_boxes_grow_without_overlapping(tmp_path: Path) -> None:
    """A reviewer must see every character of a path: lines wrap (broken after '/' or ','),
    never cut, and each box is as tall as its lines."""
    from flarectl.picture import wrap

    workdir = "/" + "/".join(f"folder-{n:02d}" for n in range(20))
    federation = Federation.model_validate({
        "project": "onco", "project_admin_email": "it@hospital.test",
        "sites": [{"name": "deep", "kind": "linux", "kit": "/kits/deep", "workdir": workdir, "gpus": 1, "gpu_memory_gib": 10},
                  {"name": "next", "kind": "linux", "kit": "/kits/next", "workdir": "/srv/next", "gpus": 0}],
    })  # fmt: skip
    svg = render_svg(federation)
    deep = boxes(svg)[1]
    assert "".join(line.removeprefix("   ") for line in deep[2:-3]) == f"Linux GPU server: {workdir}"
    assert all(len(line) <= 58 and "…" not in line for line in deep)
    rects = [r for r in ET.fromstring(svg).iter(f"{SVG}rect") if r.get("rx")][1:]
    first_bottom = float(rects[0].get("y", 0)) + float(rects[0].get("height", 0))
    assert float(rects[0].get("height", 0)) >= 24 + 18 * len(deep) and float(rects[1].get("y", 0)) > first_bottom
    assert wrap(["a" * 120]) == ["a" * 58, "   " + "a" * 55, "   " + "a" * 7]
