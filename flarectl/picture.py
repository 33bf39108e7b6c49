"""A picture of the federation (cdk.out/federation.svg): the hub with its names, ports and
certificate mode; each site with its kind, place and GPUs; and an arrow for every connection,
drawn from the side that opens it (sites dial out to the hub; nothing dials in to a site).

Plain SVG written here, laid out on a fixed grid, so it renders the same everywhere without
Graphviz or a browser, and a review can diff it.
"""

from __future__ import annotations

import re
from xml.sax.saxutils import escape

from flarectl.config.federation import FederationSettings
from flarectl.config.sites import ClientSite
from flarectl.governance import describe

WIDTH = 1000
HUB_X, HUB_WIDTH = 20, 440
SITE_X, SITE_WIDTH, SITE_HEIGHT, GAP = 560, 420, 92, 18
TOP = 86
MAX_CHARS = 58
FONT = "font-family='DejaVu Sans, Arial, sans-serif'"


def clean(text: str, limit: int = MAX_CHARS) -> str:
    """One line of SVG text: no control characters, at most `limit` characters, XML-escaped."""
    text = re.sub(r"[\x00-\x1f\x7f]", "?", text)
    return escape(text if len(text) <= limit else text[: limit - 1] + "…")


def wrap(lines: list[str], limit: int = MAX_CHARS) -> list[str]:
    """Long lines (paths, lists of CIDRs) go on as indented lines, broken after a '/', ',' or
    space where one is near the end, never cut: a reviewer must see the whole path."""
    wrapped = []
    for line in lines:
        first = True
        while len(line) > limit:
            width = limit if first else limit - 3
            cut = max(line.rfind(mark, width // 2, width) for mark in "/,") or line.rfind(" ", width // 2, width)
            cut = cut if cut > 0 else line.rfind(" ", width // 2, width)
            cut = cut + 1 if cut > 0 else width
            wrapped.append(line[:cut] if first else "   " + line[:cut])
            line, first = line[cut:].lstrip(" "), False
        wrapped.append(line if first else "   " + line)
    return wrapped


def height_of(lines: list[str]) -> float:
    return 24 + 18 * len(lines)


def box(x: float, y: float, width: float, height: float, lines: list[str], *, fill: str) -> list[str]:
    parts = [f"<rect x='{x:g}' y='{y:g}' width='{width:g}' height='{height:g}' rx='8' fill='{fill}' stroke='#37474f'/>"]
    for index, line in enumerate(lines):
        style = " font-size='15' font-weight='bold'" if index == 0 else " font-size='12'"
        parts.append(f"<text x='{x + 12:g}' y='{y + 24 + index * 18:g}'{style}>{clean(line)}</text>")
    return parts


def hub_lines(federation: FederationSettings) -> list[str]:
    hub, dns, aws = federation.hub, federation.dns, federation.aws
    dashboard = dns.dashboard_name if dns else "<the hub's Elastic IP>"
    server = dns.server_name if dns else "<the hub's Elastic IP>"
    where = f"AWS {aws.account} {aws.region}" if aws.account else "AWS, the deploy's account and region"
    return [
        "Hub: FlareServerStack",
        f"project {federation.project}, NVFlare {federation.nvflare_version}",
        f"{where}, {hub.instance_type}",
        f"dashboard: https://{dashboard}",
        f"   TCP 443, certificate: {federation.certificate_mode}",
        f"FL server: {server}:{hub.fl_port}",
        "   mutual TLS with the project's root CA",
        f"inbound 443 from {', '.join(hub.dashboard_cidrs)}",
        f"inbound {hub.fl_port} from {', '.join(hub.fl_cidrs)}",
        f"jobs accepted from: {describe(federation.governance.server, hub=True)['jobs from']}",
    ]


def site_lines(site: ClientSite, federation: FederationSettings) -> list[str]:
    memory = f", {site.gpu_memory_gib:g} GiB each" if site.gpus and site.gpu_memory_gib else ""
    stance = federation.governance.site(site.name)
    words = describe(stance, hub=False)
    privacy = "no scopes" if stance.privacy is None else "scopes " + ", ".join(scope.name for scope in stance.privacy.scopes)
    if stance.privacy and stance.privacy.default_scope:
        privacy += f" (default {stance.privacy.default_scope})"
    policy = [f"jobs from: {words['jobs from']}", f"custom code: {words['custom code']}; privacy: {privacy}"]
    return [site.name, f"kind: {site.kind}", site.place(federation), f"{site.gpus} GPU(s){memory}", *policy]


def render_svg(federation: FederationSettings) -> str:
    """Sites stacked on the right, the hub on the left; an arrow from each site to the hub."""
    lines = wrap(hub_lines(federation))
    hub_height = height_of(lines)
    site_boxes = [wrap(site_lines(site, federation)) for site in federation.sites]
    site_heights = [max(SITE_HEIGHT, height_of(box_lines)) for box_lines in site_boxes]
    sites_height = sum(site_heights) + GAP * (len(site_heights) - 1)
    body = max(hub_height, sites_height, SITE_HEIGHT)
    height = TOP + body + 60
    hub_y = TOP + (body - hub_height) / 2
    port = federation.hub.fl_port
    subtitle = f"Sites dial out to the hub on TCP {port} (mutual TLS); nothing dials in to a site."
    parts = [
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{WIDTH}' height='{height:g}' viewBox='0 0 {WIDTH} {height:g}' {FONT}>",
        f"<title>{clean(f'NVFlare federation {federation.project}', 200)}</title>",
        "<defs><marker id='arrow' viewBox='0 0 10 10' refX='10' refY='5' markerWidth='8' markerHeight='8' orient='auto-start-reverse'>"
        "<path d='M 0 0 L 10 5 L 0 10 z' fill='#1565c0'/></marker></defs>",
        f"<rect width='{WIDTH}' height='{height:g}' fill='white'/>",
        f"<text x='20' y='32' font-size='18' font-weight='bold'>{clean(f'Federation {federation.project}', 200)}</text>",
        f"<text x='20' y='56' font-size='13' fill='#1565c0'>{clean(subtitle, 200)}</text>",
        *box(HUB_X, hub_y, HUB_WIDTH, hub_height, lines, fill="#e3f2fd"),
    ]
    y = float(TOP)
    for index, (site, box_lines, site_height) in enumerate(zip(federation.sites, site_boxes, site_heights, strict=True)):
        end_y = hub_y + hub_height * (index + 1) / (len(federation.sites) + 1)
        parts.append(
            f"<line x1='{SITE_X:g}' y1='{y + site_height / 2:g}' x2='{HUB_X + HUB_WIDTH:g}' y2='{end_y:g}' stroke='#1565c0' "
            f"stroke-width='1.5' marker-end='url(#arrow)'><title>{clean(f'{site.name} dials out to the hub, TCP {port}', 200)}</title></line>"
        )
        parts += box(SITE_X, y, SITE_WIDTH, site_height, box_lines, fill="#f1f8e9")
        y += site_height + GAP
    if not federation.sites:
        parts.append(f"<text x='{SITE_X:g}' y='{TOP + 24:g}' font-size='13'>no client sites in the federation file yet</text>")
    legend = "Arrows point from the side that opens the connection. Researchers and Org Admins reach the dashboard over HTTPS."
    parts.append(f"<text x='20' y='{height - 24:g}' font-size='12' fill='#455a64'>{clean(legend, 200)}</text>")
    parts.append("</svg>")
    return "\n".join(parts) + "\n"
