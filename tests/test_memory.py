"""pybuf's own memory: memory_info() counts every owned block exactly, the
caches keep no more than their documented bounds, trim() gives everything
back (the process's resident size included), PYBUF_NO_CACHE=1 bypasses the
caches.  Resident sizes are measured in child processes."""
import os
import subprocess
import sys
import textwrap

import pytest

import pybuf
from pybuf import _alloc
from conftest import measures_resident_memory

LIMITS = _alloc._cache_limits()
MiB = 1 << 20


def block_size(nbytes, align=64):
    """The documented size of the block that holds ``nbytes``."""
    total = max(nbytes + align - 1, 1)
    if total <= 2560:
        return -(-total // 64) * 64
    if total <= 16 * 1024:
        return -(-total // 1024) * 1024
    return total


@pytest.fixture
def clean():
    """Caches on and empty before and after the test."""
    before = _alloc._set_caching(True, True)
    pybuf.trim()
    yield
    pybuf.trim()
    _alloc._set_caching(*before)


def test_memory_info_keys_and_types():
    info = pybuf.memory_info()
    assert set(info) == {"allocated", "cached", "peak"}
    assert all(type(v) is int and v >= 0 for v in info.values())
    assert info["peak"] >= info["allocated"]


@pytest.mark.parametrize("nbytes", [0, 1, 63, 64, 1000, 2497, 2560, 3000,
                                    16 * 1024 - 63, 16 * 1024, 100_000, 5 * MiB])
@pytest.mark.parametrize("align", [1, 64, 4096])
def test_allocated_counts_each_block_exactly(clean, nbytes, align):
    before = pybuf.memory_info()["allocated"]
    b = pybuf.empty(nbytes, align=align)
    z = pybuf.zeros(nbytes, align=align)
    info = pybuf.memory_info()
    assert info["allocated"] - before == 2 * block_size(nbytes, align)
    assert info["peak"] >= info["allocated"]
    views = [b[::2], memoryview(z), z.toreadonly(), pybuf.asbuffer(b)]
    assert pybuf.memory_info()["allocated"] == info["allocated"]
    del views, b
    z.release()
    assert pybuf.memory_info()["allocated"] == before


def test_resize_and_copies_are_counted(clean):
    before = pybuf.memory_info()["allocated"]
    b = pybuf.zeros(100, "d")
    b.resize((300,))
    assert pybuf.memory_info()["allocated"] - before == block_size(2400)
    c = b.copy()
    d = pybuf.astype(b, "f")
    assert pybuf.memory_info()["allocated"] - before == \
        2 * block_size(2400) + block_size(1200)
    del b, c, d
    assert pybuf.memory_info()["allocated"] == before


def test_peak_follows_the_highest_allocation(clean):
    start = pybuf.memory_info()
    b = pybuf.empty(3 * MiB)
    peak = pybuf.memory_info()["peak"]
    assert peak >= start["allocated"] + block_size(3 * MiB)
    del b
    assert pybuf.memory_info()["peak"] == peak      # a peak stays


def test_small_blocks_are_cached_then_trimmed(clean):
    b = pybuf.empty(1000)
    size = block_size(1000)
    del b
    assert pybuf.memory_info()["cached"] == size
    b = pybuf.zeros(1000)                 # reuses the cached block, zeroed
    assert pybuf.memory_info()["cached"] == 0
    assert not any(memoryview(b))
    b.fill(7)
    del b
    assert pybuf.trim() == size
    assert pybuf.memory_info()["cached"] == 0
    assert pybuf.trim() == 0


def test_small_cache_is_bounded(clean):
    """Fill every size class beyond its depth: the cache holds exactly its
    documented maximum, and not a byte more."""
    sizes = sorted({block_size(n) for n in range(1, 16 * 1024 - 62)})
    assert len(sizes) == LIMITS["classes"]
    assert sum(sizes) * LIMITS["depth"] == LIMITS["small_max"]
    assert LIMITS["small_max"] < 1.5 * MiB           # as the docs say
    held = [pybuf.empty(s - 63) for s in sizes for _ in range(LIMITS["depth"] + 3)]
    del held
    assert pybuf.memory_info()["cached"] == LIMITS["small_max"]
    assert pybuf.trim() == LIMITS["small_max"]


def test_one_large_block_is_cached(clean):
    lo, hi = LIMITS["large_min"], LIMITS["large_max"]
    assert (lo, hi) == (32 * MiB, 65 * MiB)
    a = pybuf.empty(40 * MiB)
    b = pybuf.empty(48 * MiB)
    del a, b
    assert pybuf.memory_info()["cached"] == block_size(48 * MiB)  # the last
    c = pybuf.empty(48 * MiB)           # takes it: same block, no new memory
    assert pybuf.memory_info()["cached"] == 0
    z = pybuf.zeros(48 * MiB)           # zeros never take a dirty block
    del c
    assert pybuf.memory_info()["cached"] == block_size(48 * MiB)
    z2 = pybuf.zeros(48 * MiB)
    assert pybuf.memory_info()["cached"] == block_size(48 * MiB)
    assert not any(memoryview(z2)[::4096])
    del z, z2
    for nbytes in (16 * MiB, 66 * MiB):          # outside the range: freed
        pybuf.trim()
        pybuf.empty(nbytes)                       # made and dropped
        assert pybuf.memory_info()["cached"] == 0, nbytes


def test_set_caching_off_empties_and_bypasses(clean):
    pybuf.empty(100)                              # made and dropped
    assert pybuf.memory_info()["cached"] > 0
    assert _alloc._set_caching(False, False) == (True, True)
    assert pybuf.memory_info()["cached"] == 0
    for n in (100, 5000, 40 * MiB):
        before = pybuf.memory_info()["allocated"]
        b = pybuf.empty(n)
        assert pybuf.memory_info()["allocated"] - before == block_size(n)
        del b
        assert pybuf.memory_info()["cached"] == 0
    assert _alloc._cache_limits()["enabled"] == (False, False)


def run_child(code, **env):
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)],
                          capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, **env))
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_no_cache_environment_variable():
    out = run_child("""
        import pybuf
        from pybuf import _alloc
        assert _alloc._cache_limits()["enabled"] == (False, False)
        for n in (8, 1000, 16000, 40 << 20):
            for _ in range(3):
                b = pybuf.empty(n)
                b.fill(1)
                del b
                assert pybuf.memory_info()["cached"] == 0, n
        assert pybuf.memory_info()["allocated"] == 0
        assert pybuf.trim() == 0
        print("ok")
    """, PYBUF_NO_CACHE="1")
    assert out.split() == ["ok"]
    out = run_child("""
        from pybuf import _alloc
        print(_alloc._cache_limits()["enabled"])
    """, PYBUF_NO_CACHE="0")
    assert out.strip() == "(True, True)"


RSS = """
import gc, os, sys
import pybuf

PAGE = os.sysconf("SC_PAGE_SIZE")

def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE

base = rss()
n = int(sys.argv[1])
live = []
for _ in range(3):
    b = pybuf.empty(n)
    b.fill(1)
    grown = rss()
    del b
    # Small objects made after a freed block sit above it in the heap:
    # glibc then keeps the block's pages (below 32 MiB) until trimmed.
    live.append([bytearray(200) for _ in range(100)])
gc.collect()
kept = rss()
freed = pybuf.trim()
after = rss()
print(base, grown, kept, freed, after)
"""


@measures_resident_memory
@pytest.mark.skipif(not os.path.exists("/proc/self/statm"),
                    reason="needs /proc/self/statm (Linux)")
@pytest.mark.parametrize("mib", [16, 64, 200])
def test_resident_memory_comes_back_after_trim(mib):
    n = mib * MiB
    env = {k: v for k, v in os.environ.items() if k != "PYBUF_NO_CACHE"}
    proc = subprocess.run([sys.executable, "-c", RSS, str(n)], env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    base, grown, kept, freed, after = map(int, proc.stdout.split())
    assert grown - base >= 0.9 * n                 # the pages were touched
    if LIMITS["large_min"] <= block_size(n) <= LIMITS["large_max"]:
        assert kept - base >= 0.9 * n              # the cache holds them
        assert freed == block_size(n)
    else:
        assert freed == 0
    assert after - base < 4 * MiB, (base, grown, kept, after)   # all back
