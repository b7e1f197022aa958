/*
 * /init of the end-to-end test guest (design.md section 6): a static program that is the whole
 * userland of an initramfs. It proves, on the serial console, that the guest keeps running and
 * that its memory (and optionally its disk) survives a live migration.
 *
 * Parameters, from /proc/cmdline:
 *   km.size_mib=M       size of the memory buffer (default 64)
 *   km.dirty_mib_s=N    dirty N MiB/s of that buffer, steadily, in 10 ms ticks (default 0)
 *   km.disk=/dev/vda    write a pattern to this disk at first boot (if not there yet) and
 *                       verify it every second, reading past the guest's page cache
 *   km.spin=1           wait for the next tick in a loop of system calls instead of sleeping
 *                       (with pti=on, keeps QEMU's TCG TLB flushed: guest/domain-xml.sh)
 *
 * Memory: every 4 KiB page of the buffer holds a pseudo-random pattern (fixed at boot, summed
 * into `memsum`) and, in its last 8 bytes, a stamp. The dirtier walks the pages round robin and
 * writes stamp = number of the write, so the content of every page is known exactly at any
 * moment. Every second the whole buffer has been re-read (a slice per tick): the pattern must
 * still sum to memsum and every stamp must be the one last written. Output, once a second:
 *
 *   km: alive n=<seconds> memsum=<16 hex> ok [disk=ok]
 *
 * or `BAD(...)` / `disk=BAD(...)` with what differed. A rebooted guest prints `km: boot` again
 * and restarts n at 1; a migrated one continues n and keeps memsum.
 *
 * Disk: block 0 holds a header (magic, seed, pattern checksum), blocks 1..kDiskPatternBlocks the
 * pattern, block kDiskTickBlock a counter rewritten every second; every second the pattern is
 * re-read and checked and the counter must read back as last written. O_DIRECT keeps reads off
 * the guest page cache, so they reach the (migrated) disk.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

enum {
  kPage = 4096,
  kWordsPerPage = kPage / 8,
  kTicksPerSecond = 100,
  kDiskBlock = 4096,
  kDiskPatternBlocks = 1024, /* 4 MiB */
  kDiskTickBlock = kDiskPatternBlocks + 1,
};
static const char kDiskMagic[8] = "KMDISK1";

static void say(const char *fmt, ...) {
  char line[512];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  if ((size_t)n >= sizeof line) n = sizeof line - 1;
  line[n++] = '\n';
  ssize_t off = 0;
  while (off < n) {
    ssize_t w = write(1, line + off, (size_t)(n - off));
    if (w <= 0) return;
    off += w;
  }
}

/* Never returns: /init exiting would panic the kernel, hiding the message. */
static void halt(const char *why) {
  say("km: FATAL %s", why);
  for (;;) pause();
}

static uint64_t mix(uint64_t x) { /* splitmix64 finaliser */
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static char cmdline[4096];

/* Value of `key=` in the kernel command line, or NULL. */
static const char *param(const char *key) {
  size_t klen = strlen(key);
  for (const char *p = cmdline; *p;) {
    while (*p == ' ' || *p == '\n') p++;
    if (strncmp(p, key, klen) == 0 && p[klen] == '=') {
      static char value[256];
      const char *v = p + klen + 1;
      size_t n = strcspn(v, " \n");
      if (n >= sizeof value) n = sizeof value - 1;
      memcpy(value, v, n);
      value[n] = 0;
      return value;
    }
    p += strcspn(p, " \n");
  }
  return NULL;
}

static long param_long(const char *key, long def, long min, long max) {
  const char *v = param(key);
  if (!v) return def;
  char *end;
  long x = strtol(v, &end, 10);
  if (*v == 0 || *end != 0 || x < min || x > max) {
    say("km: bad %s=%s (want %ld..%ld), using %ld", key, v, min, max, def);
    return def;
  }
  return x;
}

static void setup_system(void) {
  mkdir("/proc", 0555);
  mkdir("/dev", 0755);
  mount("proc", "/proc", "proc", 0, NULL);
  mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
  /* The kernel opened /dev/console from the initramfs for us; if that node was missing, our
   * output went nowhere: reopen it from devtmpfs. */
  if (fcntl(1, F_GETFD) < 0) {
    int fd = open("/dev/console", O_RDWR);
    if (fd >= 0) {
      dup2(fd, 0);
      dup2(fd, 1);
      dup2(fd, 2);
      if (fd > 2) close(fd);
    }
  }
  int fd = open("/proc/cmdline", O_RDONLY);
  if (fd >= 0) {
    ssize_t n = read(fd, cmdline, sizeof cmdline - 1);
    cmdline[n > 0 ? n : 0] = 0;
    close(fd);
  }
}

/* Loads the modules listed, in order, in /modules.load (virtio and virtio_blk). */
static void load_modules(void) {
  FILE *f = fopen("/modules.load", "r");
  if (!f) return;
  char path[256];
  while (fgets(path, sizeof path, f)) {
    path[strcspn(path, "\n")] = 0;
    if (!path[0]) continue;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      say("km: module %s: %s", path, strerror(errno));
      continue;
    }
    if (syscall(SYS_finit_module, fd, "", 0) != 0 && errno != EEXIST)
      say("km: module %s: %s", path, strerror(errno));
    close(fd);
  }
  fclose(f);
}

/* ---- memory ---- */

static uint64_t *buf;
static size_t npages;
static uint64_t writes;     /* stamps written so far; page (w % npages) got stamp w+1 */
static uint64_t memsum;     /* sum of the pattern words at boot */

static uint64_t fold(uint64_t h, uint64_t w) { return (h ^ w) * 0x100000001b3ull + (h >> 29); }

static void fill_memory(uint64_t seed) {
  for (size_t p = 0; p < npages; p++) {
    uint64_t *page = buf + p * kWordsPerPage;
    for (int i = 0; i < kWordsPerPage - 1; i++) page[i] = mix(seed ^ (p * kWordsPerPage + i));
    page[kWordsPerPage - 1] = 0;
  }
}

/* Pattern checksum of pages [from, to), continuing h. */
static uint64_t sum_pages(uint64_t h, size_t from, size_t to) {
  for (size_t p = from; p < to; p++) {
    const volatile uint64_t *page = buf + p * kWordsPerPage;
    for (int i = 0; i < kWordsPerPage - 1; i++) h = fold(h, page[i]);
  }
  return h;
}

/* The stamp page p must hold after `writes` stamps. */
static uint64_t expected_stamp(size_t p) {
  if (writes <= p) return 0;
  uint64_t last = (writes - 1) - ((writes - 1 - p) % npages); /* last write to page p */
  return last + 1;
}

static size_t check_stamps(size_t from, size_t to) {
  size_t bad = 0;
  for (size_t p = from; p < to; p++) {
    const volatile uint64_t *stamp = buf + p * kWordsPerPage + kWordsPerPage - 1;
    if (*stamp != expected_stamp(p)) bad++;
  }
  return bad;
}

static void dirty_pages(uint64_t count) {
  for (uint64_t k = 0; k < count; k++) {
    size_t p = writes % npages;
    volatile uint64_t *stamp = buf + p * kWordsPerPage + kWordsPerPage - 1;
    *stamp = ++writes;
  }
}

/* ---- disk ---- */

static int disk_fd = -1;
static unsigned char *dblock; /* one aligned block for O_DIRECT */
static uint64_t disk_ticks;   /* last counter written to kDiskTickBlock */

static int block_io(int write_it, uint64_t block) {
  ssize_t n = write_it ? pwrite(disk_fd, dblock, kDiskBlock, (off_t)(block * kDiskBlock))
                       : pread(disk_fd, dblock, kDiskBlock, (off_t)(block * kDiskBlock));
  return n == kDiskBlock ? 0 : -1;
}

static uint64_t disk_pattern_word(uint64_t seed, uint64_t block, int i) {
  return mix(seed ^ (block << 20) ^ (uint64_t)i);
}

/* Sum of the pattern blocks as read from the disk; -1 on I/O error via *io_error. */
static uint64_t disk_pattern_sum(uint64_t seed, int *mismatch, int *io_error) {
  uint64_t h = 0;
  *mismatch = 0;
  *io_error = 0;
  for (uint64_t b = 1; b <= kDiskPatternBlocks; b++) {
    if (block_io(0, b) != 0) {
      *io_error = 1;
      return 0;
    }
    const uint64_t *w = (const uint64_t *)dblock;
    for (int i = 0; i < kDiskBlock / 8; i++) {
      if (w[i] != disk_pattern_word(seed, b, i)) (*mismatch)++;
      h = fold(h, w[i]);
    }
  }
  return h;
}

struct disk_header {
  char magic[8];
  uint64_t seed;
  uint64_t sum;
};
static struct disk_header disk_hdr;

static void disk_setup(const char *path) {
  /* virtio_blk probes asynchronously: wait up to 10 s for the node devtmpfs creates. */
  for (int i = 0; i < 100 && access(path, F_OK) != 0; i++) usleep(100000);
  disk_fd = open(path, O_RDWR | O_DIRECT | O_SYNC);
  if (disk_fd < 0) {
    say("km: disk %s: %s", path, strerror(errno));
    halt("cannot open the disk");
  }
  if (posix_memalign((void **)&dblock, kDiskBlock, kDiskBlock) != 0) halt("out of memory");
  if (block_io(0, 0) != 0) halt("cannot read the disk header");
  memcpy(&disk_hdr, dblock, sizeof disk_hdr);
  if (memcmp(disk_hdr.magic, kDiskMagic, sizeof kDiskMagic) == 0) {
    say("km: disk %s has a pattern (seed=%016llx sum=%016llx)", path,
        (unsigned long long)disk_hdr.seed, (unsigned long long)disk_hdr.sum);
  } else {
    /* A seed from the clock: each disk gets its own content. */
    uint64_t seed = mix(now_ns() ^ ((uint64_t)getpid() << 32));
    uint64_t h = 0;
    for (uint64_t b = 1; b <= kDiskPatternBlocks; b++) {
      uint64_t *w = (uint64_t *)dblock;
      for (int i = 0; i < kDiskBlock / 8; i++) {
        w[i] = disk_pattern_word(seed, b, i);
        h = fold(h, w[i]);
      }
      if (block_io(1, b) != 0) halt("cannot write the disk pattern");
    }
    memset(dblock, 0, kDiskBlock);
    memcpy(disk_hdr.magic, kDiskMagic, sizeof kDiskMagic);
    disk_hdr.seed = seed;
    disk_hdr.sum = h;
    memcpy(dblock, &disk_hdr, sizeof disk_hdr);
    if (block_io(1, 0) != 0) halt("cannot write the disk header");
    say("km: disk %s pattern written (seed=%016llx sum=%016llx)", path,
        (unsigned long long)seed, (unsigned long long)h);
  }
  memset(dblock, 0, kDiskBlock);
  if (block_io(1, kDiskTickBlock) != 0) halt("cannot write the disk counter");
  disk_ticks = 0;
}

/* Verifies the disk and advances its counter; writes the verdict into out. */
static void disk_check(char *out, size_t len) {
  int mismatch, io_error;
  uint64_t h = disk_pattern_sum(disk_hdr.seed, &mismatch, &io_error);
  if (io_error) {
    snprintf(out, len, " disk=BAD(io:%s)", strerror(errno));
    return;
  }
  if (block_io(0, kDiskTickBlock) != 0) {
    snprintf(out, len, " disk=BAD(io:%s)", strerror(errno));
    return;
  }
  uint64_t counter;
  memcpy(&counter, dblock, sizeof counter);
  if (mismatch || h != disk_hdr.sum || counter != disk_ticks) {
    snprintf(out, len, " disk=BAD(words=%d sum=%016llx counter=%llu want=%llu)", mismatch,
             (unsigned long long)h, (unsigned long long)counter,
             (unsigned long long)disk_ticks);
  } else {
    snprintf(out, len, " disk=ok");
  }
  memset(dblock, 0, kDiskBlock);
  disk_ticks++;
  memcpy(dblock, &disk_ticks, sizeof disk_ticks);
  if (block_io(1, kDiskTickBlock) != 0) snprintf(out, len, " disk=BAD(io:%s)", strerror(errno));
}

int main(void) {
  setup_system();
  long size_mib = param_long("km.size_mib", 64, 1, 1 << 20);
  long dirty_mib_s = param_long("km.dirty_mib_s", 0, 0, 1 << 20);
  long spin = param_long("km.spin", 0, 0, 1);
  const char *disk = param("km.disk");
  char disk_path[256] = "";
  if (disk) snprintf(disk_path, sizeof disk_path, "%s", disk);

  npages = (size_t)size_mib * (1024 * 1024 / kPage);
  buf = aligned_alloc(kPage, npages * kPage);
  if (!buf) halt("cannot allocate the memory buffer");
  uint64_t seed = mix(now_ns());
  fill_memory(seed);
  memsum = sum_pages(0, 0, npages);
  say("km: boot size_mib=%ld dirty_mib_s=%ld memsum=%016llx", size_mib, dirty_mib_s,
      (unsigned long long)memsum);

  if (disk_path[0]) {
    load_modules();
    disk_setup(disk_path);
  }

  /* Pages to dirty per tick, in 1/kTicksPerSecond page units to keep fractions. */
  const uint64_t pages_per_s = (uint64_t)dirty_mib_s * (1024 * 1024 / kPage);
  uint64_t owed = 0;
  uint64_t tick = 0, second = 0;
  uint64_t h = 0;
  size_t bad_stamps = 0;
  struct timespec next;
  clock_gettime(CLOCK_MONOTONIC, &next);
  for (;;) {
    owed += pages_per_s;
    dirty_pages(owed / kTicksPerSecond);
    owed %= kTicksPerSecond;

    /* Re-read this tick's slice of the buffer. */
    size_t slice = tick % kTicksPerSecond;
    size_t from = npages * slice / kTicksPerSecond, to = npages * (slice + 1) / kTicksPerSecond;
    h = sum_pages(h, from, to);
    bad_stamps += check_stamps(from, to);

    if (slice == kTicksPerSecond - 1) {
      second++;
      char verdict[96];
      if (h == memsum && bad_stamps == 0)
        snprintf(verdict, sizeof verdict, "ok");
      else
        snprintf(verdict, sizeof verdict, "BAD(sum=%016llx stamps=%zu)", (unsigned long long)h,
                 bad_stamps);
      char disk_verdict[128] = "";
      if (disk_fd >= 0) disk_check(disk_verdict, sizeof disk_verdict);
      say("km: alive n=%llu memsum=%016llx %s%s", (unsigned long long)second,
          (unsigned long long)memsum, verdict, disk_verdict);
      h = 0;
      bad_stamps = 0;
    }
    tick++;

    /* Absolute deadlines keep the rate steady; after a long stall (a paused or migrating
     * guest) start afresh instead of dirtying the backlog in one burst. */
    next.tv_nsec += 1000000000 / kTicksPerSecond;
    if (next.tv_nsec >= 1000000000) {
      next.tv_nsec -= 1000000000;
      next.tv_sec++;
    }
    struct timespec cur;
    clock_gettime(CLOCK_MONOTONIC, &cur);
    if (cur.tv_sec > next.tv_sec + 1) next = cur;
    if (spin) {
      /* km.spin=1: wait in a loop of system calls instead of sleeping. With pti=on each one
       * writes CR3 twice, and QEMU (TCG) flushes its TLB at every CR3 write: the workaround
       * for QEMU 7.2 losing writes in a live migration (guest/domain-xml.sh, README). */
      for (;;) {
        clock_gettime(CLOCK_MONOTONIC, &cur);
        if (cur.tv_sec > next.tv_sec || (cur.tv_sec == next.tv_sec && cur.tv_nsec >= next.tv_nsec))
          break;
        syscall(SYS_getppid);
      }
    } else {
      clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
    }
  }
}
