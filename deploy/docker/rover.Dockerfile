# syntax=docker/dockerfile:1
# rover image. Build from the repository root:
#   docker build -f deploy/docker/rover.Dockerfile -t swlite/rover:0.1.0 .
# The image holds rover's self-contained dist/ (apps/rover's build): rover.js (esbuild bundle),
# swlite_libbpf.node (the libbpf-ts N-API addon, linked against Debian's libbpf1 and libelf1),
# bpf/*.bpf.o (the CO-RE programs) and rover.yaml (the defaults). Run it privileged with the
# host's PID namespace; see deploy/kubernetes/rover.yaml and apps/rover/config/README.md.

FROM node:20-bookworm AS build
# clang/llvm/bpftool build the CO-RE objects (bpf/Makefile), libbpf-dev/libelf-dev the addon.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev make g++ python3 \
 && rm -rf /var/lib/apt/lists/*
# libbpf-ts's build passes --nodedir=/usr (Debian's node layout); this image keeps Node's headers
# under /usr/local.
RUN ln -s /usr/local/include/node /usr/include/node
WORKDIR /src
COPY . .
ENV npm_config_nodedir=/usr/local
RUN npm ci --no-audit --no-fund --loglevel=error
# bpf/Makefile dumps vmlinux.h from the build host's BTF (CO-RE: any BTF-enabled kernel will do;
# the objects relocate against the running kernel's BTF at load). Without /sys/kernel/btf/vmlinux
# in the build, pass one: --build-arg VMLINUX_BTF=/src/path/to/vmlinux (a BTF file in the context).
ARG VMLINUX_BTF=/sys/kernel/btf/vmlinux
RUN make -C bpf VMLINUX_BTF=${VMLINUX_BTF}
RUN npx nx run @swlite/rover:build --outputStyle=static \
 && test -f apps/rover/dist/swlite_libbpf.node \
 && ls apps/rover/dist/bpf/oncpu.bpf.o apps/rover/dist/bpf/offcpu.bpf.o

FROM node:20-bookworm-slim
# libbpf1 and libelf1: the addon's shared libraries. binutils: c++filt, which the symbolizer runs
# to demangle C++ names (Envoy's frames). util-linux: mount, for tracefs when it is not mounted.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libbpf1 libelf1 zlib1g binutils util-linux ca-certificates \
 && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production \
    ROVER_BACKEND_ADDR=oap-lite:11800 \
    SWLITE_BPF_DIR=/app/bpf \
    SWLITE_LIBBPF_NODE=/app/swlite_libbpf.node
WORKDIR /app
COPY --from=build /src/apps/rover/dist/ /app/
# Root: loading BPF programs and reading other processes' /proc needs it (the pod runs privileged).
USER root
# rover.js runs itself (#!/usr/bin/env -S node FLAGS): the V8 flags chosen for it come with it.
ENTRYPOINT ["/app/rover.js"]
CMD ["--config", "/app/rover.yaml"]
