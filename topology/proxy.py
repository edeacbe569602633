"""nginx in front of the web replicas, configured like the deploy's Traefik.

- It load-balances over the replicas and takes one out of rotation when connecting to it
  fails (nginx's open-source build has no active health check; a refused connection is
  retried on the other replica, which is safe even for a POST because nothing was sent).
- X-Forwarded-For / -Proto: from a trusted peer (Traefik's `forwardedHeaders.trustedIPs`,
  which is cloudflared in deploy/; the load driver here) they are kept and the peer is
  appended; from anyone else they are replaced, so a client cannot forge its address. The
  app trusts them only from the proxy (FORWARDED_ALLOW_IPS, uvicorn's proxy headers).
- Server-Sent Events pass unbuffered (`proxy_buffering off`; the app also sends
  `X-Accel-Buffering: no`) with a long read timeout.
- /metrics is not served, as Traefik's router excludes it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

NGINX_CANDIDATES = ("nginx", "/usr/sbin/nginx")

CONFIG = """\
worker_processes 1;
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;

events {{ worker_connections 1024; }}

http {{
    access_log off;
    client_body_temp_path {dir}/client_body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;

    # Forwarded headers are trusted only from these peers (Traefik: forwardedHeaders.trustedIPs).
    geo $trusted_peer {{
        default 0;
{trusted}
    }}
    map $trusted_peer $forwarded_for {{
        1 $proxy_add_x_forwarded_for;
        default $remote_addr;
    }}
    map "$trusted_peer:$http_x_forwarded_proto" $forwarded_proto {{
        "1:https" https;
        "1:http" http;
        default $scheme;
    }}

    upstream web {{
{servers}
        keepalive 32;
    }}

    server {{
        listen 127.0.0.1:{port};
        client_max_body_size 20m;

        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header Host $http_host;
        proxy_set_header X-Forwarded-For $forwarded_for;
        proxy_set_header X-Forwarded-Proto $forwarded_proto;
        proxy_set_header X-Forwarded-Host $host;
        proxy_connect_timeout 2s;
        proxy_read_timeout 60s;
        # A refused connection goes to the other replica; a request that reached a replica
        # is never sent twice (no non_idempotent).
        proxy_next_upstream error timeout;
        proxy_next_upstream_tries 2;

        location = /metrics {{
            return 404;
        }}

        location ~ ^/(api/v1/events|inbox/events)$ {{
            proxy_pass http://web;
            proxy_buffering off;
            proxy_cache off;
            proxy_read_timeout 1h;
        }}

        location / {{
            proxy_pass http://web;
        }}
    }}
}}
"""


def nginx_binary(install: bool = True) -> str:
    """nginx from Debian, installed with apt-get (nginx-light) when it is missing."""
    for candidate in NGINX_CANDIDATES:
        found = shutil.which(candidate)
        if found:
            return found
    if not install:
        raise RuntimeError("nginx is not installed")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)  # noqa: S607
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "nginx-light"],  # noqa: S607
        check=True,
        env=env,
    )
    return nginx_binary(install=False)


def write_config(directory: Path, port: int, upstreams: list[int], trusted: list[str]) -> Path:
    """nginx.conf for `upstreams` (replica ports) on 127.0.0.1:`port`, under `directory`."""
    for sub in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (directory / sub).mkdir(parents=True, exist_ok=True)
    servers = "\n".join(
        f"        server 127.0.0.1:{p} max_fails=1 fail_timeout=3s;" for p in upstreams
    )
    trusted_lines = "\n".join(f"        {cidr} 1;" for cidr in trusted)
    path = directory / "nginx.conf"
    path.write_text(CONFIG.format(dir=directory, port=port, servers=servers, trusted=trusted_lines))
    return path


def start_nginx(directory: Path, config: Path) -> subprocess.Popen[bytes]:
    """Check the configuration, then run nginx in the foreground as a child process."""
    binary = nginx_binary()
    subprocess.run(  # noqa: S603
        [binary, "-t", "-q", "-p", str(directory), "-c", str(config)], check=True
    )
    log = (directory / "nginx.out").open("wb")
    return subprocess.Popen(  # noqa: S603
        [binary, "-p", str(directory), "-c", str(config)], stdout=log, stderr=log
    )
