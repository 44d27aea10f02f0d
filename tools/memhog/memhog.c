// SPDX-License-Identifier: GPL-2.0
/*
 * memhog - guest workload for pagehint: allocate, touch, hold and free
 * anonymous memory, once, in rounds, or as multi-threaded churn.
 *
 * Memory comes from mmap() and goes back with munmap(), never through
 * malloc, so a free really returns the pages to the guest's buddy
 * allocator, which is what free page reporting sees.
 *
 * With -M DIR, every phase change writes DIR/<phase>.<round> (content: the
 * guest's CLOCK_MONOTONIC in ns) and fsyncs it. On a virtio-9p share the
 * host sees the file appear at once and timestamps the phase on its own
 * clock, which is how the VM runner lines up host RSS with guest frees.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MIB (1UL << 20)

static const char *mark_dir;
static long page_size;

static const char usage[] =
"Usage: memhog [-m MIB] [-H MS] [-r N] [-p MS] [-M DIR]\n"
"       memhog -c SECONDS [-m MIB] [-t THREADS] [-s SEED] [-M DIR]\n"
"       memhog -f SECONDS [-m MIB]\n"
"       memhog -F [-m MIB] [-H MS] [-M DIR]\n"
"       memhog -C SECONDS [-m MIB] [-t JOBS] [-s SEED] [-M DIR]\n"
"\n"
"Allocate MIB of anonymous memory, touch every page, hold it, free it.\n"
"\n"
"  -m MIB       memory to allocate (default 600)\n"
"  -H MS        hold the touched memory this long before freeing (0)\n"
"  -r N         rounds of allocate/touch/hold/free (1)\n"
"  -p MS        pause after each free (0)\n"
"  -c SECONDS   churn: THREADS threads allocate and free random sizes,\n"
"               from one page to 4 MiB, holding at most MIB in total\n"
"  -t THREADS   churn threads (2)\n"
"  -s SEED      churn random seed (1)\n"
"  -f SECONDS   page-fault loop (will-it-scale page_fault1): map MIB,\n"
"               write every page, unmap, repeat; prints faults per second\n"
"  -F           fragmented free: touch MIB, then free every other page\n"
"               of 7/8 of it (order-0 frees whose buddies stay in use)\n"
"               and the last 1/8 in whole 4 MiB blocks (a few high\n"
"               orders), hold MS, free the rest; phases frag-alloc,\n"
"               frag-touched, frag-freed, frag-rest\n"
"  -C SECONDS   compile-like: JOBS processes at a time (like make -j),\n"
"               each living 0.5..3 s and growing to 16..MIB MiB in four\n"
"               steps, then exiting; new ones start as old ones exit\n"
"  -M DIR       write a marker file DIR/<phase>.<round> at each phase\n"
"\n"
"Each phase is also printed as a JSON line on stdout.\n"
"\n"
"EXAMPLES:\n"
"  memhog -m 600 -H 2000 -M /mnt/out   # one-shot: 600 MiB, hold 2 s\n"
"  memhog -m 256 -r 5 -p 3000          # five rounds, 3 s apart\n"
"  memhog -c 60 -m 400 -t 4            # one minute of churn\n"
"  memhog -f 10 -m 128                 # page-fault throughput\n"
"  memhog -F -m 400 -H 8000 -M /mnt/out # fragmented free\n"
"  memhog -C 60 -m 192 -t 3            # a minute of a build-like load\n";

static void die_usage(const char *msg, const char *arg)
{
	fprintf(stderr, "memhog: %s '%s'\n", msg, arg);
	fprintf(stderr, "Try 'memhog -h' for more information.\n");
	exit(2);
}

static unsigned long parse_ulong(const char *s, unsigned long max)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || v > max)
		die_usage("invalid number", s);
	return v;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static void sleep_ms(unsigned long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static void mark(const char *phase, unsigned long round, unsigned long mib)
{
	uint64_t t = now_ns();
	char path[PATH_MAX], buf[32];
	int fd, len;

	printf("{\"phase\":\"%s\",\"round\":%lu,\"mib\":%lu,\"t_ns\":%llu}\n",
	       phase, round, mib, (unsigned long long)t);
	fflush(stdout);
	if (!mark_dir)
		return;
	snprintf(path, sizeof(path), "%s/%s.%lu", mark_dir, phase, round);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0) {
		fprintf(stderr, "memhog: cannot create %s: %s\n", path, strerror(errno));
		exit(1);
	}
	len = snprintf(buf, sizeof(buf), "%llu\n", (unsigned long long)t);
	if (write(fd, buf, len) != len || fsync(fd)) {
		fprintf(stderr, "memhog: cannot write %s: %s\n", path, strerror(errno));
		exit(1);
	}
	close(fd);
}

static void *map_touched(size_t len)
{
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	size_t off;

	if (p == MAP_FAILED)
		return NULL;
	/* Write, not read: a read would map the shared zero page. */
	for (off = 0; off < len; off += page_size)
		p[off] = 1;
	return p;
}

static int oneshot(unsigned long mib, unsigned long hold_ms,
		   unsigned long rounds, unsigned long pause_ms)
{
	unsigned long r;

	for (r = 1; r <= rounds; r++) {
		size_t len = mib * MIB;
		void *p;

		mark("alloc", r, mib);
		p = map_touched(len);
		if (!p) {
			fprintf(stderr, "memhog: cannot allocate %lu MiB: %s\n",
				mib, strerror(errno));
			return 1;
		}
		mark("touched", r, mib);
		sleep_ms(hold_ms);
		if (munmap(p, len)) {
			fprintf(stderr, "memhog: munmap: %s\n", strerror(errno));
			return 1;
		}
		mark("freed", r, mib);
		sleep_ms(pause_ms);
	}
	return 0;
}

struct churn {
	pthread_t tid;
	unsigned int seed;
	size_t budget;		/* bytes this thread may hold */
	uint64_t deadline;
	unsigned long allocs, bytes;
	int err;
};

#define CHURN_SLOTS 64

/*
 * Sizes are drawn log-uniformly from 1 page to 4 MiB, so frees come back
 * at every order: many order-0 pages, a few high-order blocks. Slots are
 * replaced at random, so memory is freed out of allocation order and the
 * buddy allocator sees fragmentation and merging.
 */
static void *churn_thread(void *arg)
{
	struct churn *c = arg;
	void *slot[CHURN_SLOTS] = { 0 };
	size_t len[CHURN_SLOTS] = { 0 }, held = 0;
	unsigned int max_shift = 22 - __builtin_ctzl(page_size);
	int i;

	while (now_ns() < c->deadline) {
		unsigned int s = rand_r(&c->seed) % CHURN_SLOTS;
		size_t want = (size_t)page_size << (rand_r(&c->seed) % (max_shift + 1));

		if (slot[s]) {
			munmap(slot[s], len[s]);
			held -= len[s];
			slot[s] = NULL;
		}
		if (held + want > c->budget)
			continue;
		slot[s] = map_touched(want);
		if (!slot[s]) {
			c->err = errno;
			break;
		}
		len[s] = want;
		held += want;
		c->allocs++;
		c->bytes += want;
	}
	for (i = 0; i < CHURN_SLOTS; i++)
		if (slot[i])
			munmap(slot[i], len[i]);
	return NULL;
}

static int churn(unsigned long seconds, unsigned long mib,
		 unsigned long threads, unsigned long seed)
{
	struct churn *c = calloc(threads, sizeof(*c));
	unsigned long i, allocs = 0, bytes = 0;
	int ret = 0;

	if (!c) {
		fprintf(stderr, "memhog: out of memory\n");
		return 1;
	}
	mark("churn", 1, mib);
	for (i = 0; i < threads; i++) {
		c[i].seed = seed + i;
		c[i].budget = mib * MIB / threads;
		c[i].deadline = now_ns() + seconds * 1000000000ULL;
		if (pthread_create(&c[i].tid, NULL, churn_thread, &c[i])) {
			fprintf(stderr, "memhog: cannot start thread\n");
			return 1;
		}
	}
	for (i = 0; i < threads; i++) {
		pthread_join(c[i].tid, NULL);
		allocs += c[i].allocs;
		bytes += c[i].bytes;
		if (c[i].err) {
			fprintf(stderr, "memhog: churn allocation failed: %s\n",
				strerror(c[i].err));
			ret = 1;
		}
	}
	mark("freed", 1, mib);
	printf("{\"churn_allocs\":%lu,\"churn_bytes\":%lu}\n", allocs, bytes);
	free(c);
	return ret;
}

/*
 * will-it-scale's page_fault1, single process: every iteration maps MIB,
 * faults in every page with a write and unmaps it, so both the fault
 * (allocation) and the munmap (free) paths of the buddy allocator run.
 */
static int pagefault(unsigned long seconds, unsigned long mib)
{
	size_t len = mib * MIB;
	uint64_t start = now_ns(), end = start + seconds * 1000000000ULL;
	unsigned long faults = 0, loops = 0;
	uint64_t t;

	do {
		void *p = map_touched(len);

		if (!p) {
			fprintf(stderr, "memhog: cannot allocate %lu MiB: %s\n",
				mib, strerror(errno));
			return 1;
		}
		munmap(p, len);
		faults += len / page_size;
		loops++;
		t = now_ns();
	} while (t < end);
	printf("{\"faults\":%lu,\"loops\":%lu,\"seconds\":%.3f,"
	       "\"faults_per_s\":%.0f}\n", faults, loops, (t - start) / 1e9,
	       faults / ((t - start) / 1e9));
	return 0;
}

/*
 * Fragmented free: the workload free page reporting is worst at. 7/8 of
 * the region goes back one page out of two (MADV_DONTNEED, so the VMA
 * stays whole; munmap where there is no madvise): order-0 frees whose
 * neighbours stay allocated, so the buddy allocator cannot merge them
 * into the orders reporting looks at. The last 1/8 goes back in whole
 * 4 MiB blocks. After MS, everything is unmapped.
 */
#define FRAG_BLOCK (4 * MIB)

static int fragmented(unsigned long mib, unsigned long hold_ms)
{
	size_t len = mib * MIB, high, low, off, order0 = 0;
	bool use_munmap = false;
	char *p;

	if (mib < 8) {
		fprintf(stderr, "memhog: -F needs at least 8 MiB\n");
		return 2;
	}
	high = len / 8 / FRAG_BLOCK * FRAG_BLOCK;
	if (!high)
		high = FRAG_BLOCK;
	low = len - high;
	mark("frag-alloc", 1, mib);
	p = map_touched(len);
	if (!p) {
		fprintf(stderr, "memhog: cannot allocate %lu MiB: %s\n",
			mib, strerror(errno));
		return 1;
	}
	mark("frag-touched", 1, mib);
	sleep_ms(hold_ms);
	for (off = page_size; off < low; off += 2 * page_size) {
		/* Kernels without madvise (tinyconfig): unmap the page,
		 * one VMA per hole, so -F stays below vm.max_map_count up
		 * to about 450 MiB. */
		if (use_munmap ? munmap(p + off, page_size) :
		    madvise(p + off, page_size, MADV_DONTNEED)) {
			if (!use_munmap && errno == ENOSYS) {
				use_munmap = true;
				off -= 2 * page_size;
				continue;
			}
			fprintf(stderr, "memhog: freeing page %zu: %s\n",
				off / page_size, strerror(errno));
			return 1;
		}
		order0 += page_size;
	}
	if (munmap(p + low, high)) {
		fprintf(stderr, "memhog: munmap: %s\n", strerror(errno));
		return 1;
	}
	mark("frag-freed", 1, mib);
	printf("{\"frag_order0_bytes\":%zu,\"frag_high_bytes\":%zu,"
	       "\"frag_high_blocks\":%zu}\n", order0, high, high / FRAG_BLOCK);
	fflush(stdout);
	sleep_ms(hold_ms);
	if (munmap(p, low)) {
		fprintf(stderr, "memhog: munmap: %s\n", strerror(errno));
		return 1;
	}
	mark("frag-rest", 1, mib);
	return 0;
}

/*
 * A compiler process: grows to its size in four steps over its life, as
 * a translation unit's working set does, and exits without freeing, so
 * everything goes back at once in exit_mmap().
 */
static void compile_job(size_t len, unsigned long life_ms)
{
	int step;

	for (step = 0; step < 4; step++) {
		if (!map_touched(len / 4))
			_exit(1);
		sleep_ms(life_ms / 4);
	}
	_exit(0);
}

struct compile {
	unsigned int seed;
	unsigned long max_mib, procs, failed, bytes;
};

static pid_t compile_spawn(struct compile *c)
{
	unsigned long mib = 16 + rand_r(&c->seed) % (c->max_mib - 15);
	unsigned long life = 500 + rand_r(&c->seed) % 2501;
	pid_t pid;

	/* Drawn before fork(), so the sequence depends on the seed alone. */
	pid = fork();
	if (pid == 0)
		compile_job(mib * MIB, life);
	if (pid > 0) {
		c->procs++;
		c->bytes += mib * MIB;
	}
	return pid;
}

/* Keep JOBS processes alive for SECONDS, then wait for the last ones. */
static int compile_like(unsigned long seconds, unsigned long mib,
			unsigned long jobs, unsigned long seed)
{
	struct compile c = { .seed = seed, .max_mib = mib };
	uint64_t deadline = now_ns() + seconds * 1000000000ULL;
	struct rusage ru;
	unsigned long running = 0;
	int status;

	if (mib < 16) {
		fprintf(stderr, "memhog: -C needs -m of at least 16 MiB\n");
		return 2;
	}
	mark("compile", 1, mib);
	while (running || now_ns() < deadline) {
		while (running < jobs && now_ns() < deadline) {
			if (compile_spawn(&c) < 0) {
				fprintf(stderr, "memhog: fork: %s\n", strerror(errno));
				break;
			}
			running++;
		}
		if (!running)
			break;
		if (wait(&status) < 0) {
			fprintf(stderr, "memhog: wait: %s\n", strerror(errno));
			return 1;
		}
		running--;
		if (!WIFEXITED(status) || WEXITSTATUS(status))
			c.failed++;
	}
	mark("freed", 1, mib);
	/*
	 * The kernel's peak RSS of the largest job: jobs are forked from this
	 * small process, so no bigger parent's high-water mark rides along.
	 */
	if (getrusage(RUSAGE_CHILDREN, &ru))
		ru.ru_maxrss = -1;
	printf("{\"compile_procs\":%lu,\"compile_bytes\":%lu,\"compile_failed\":%lu,"
	       "\"compile_max_rss_kib\":%ld}\n",
	       c.procs, c.bytes, c.failed, ru.ru_maxrss);
	return c.failed ? 1 : 0;
}

int main(int argc, char **argv)
{
	unsigned long mib = 600, hold = 0, rounds = 1, pause = 0;
	unsigned long churn_s = 0, threads = 2, seed = 1, fault_s = 0;
	unsigned long compile_s = 0;
	bool frag = false;
	int opt;

	page_size = sysconf(_SC_PAGESIZE);
	while ((opt = getopt(argc, argv, "m:H:r:p:c:t:s:f:FC:M:h")) != -1) {
		switch (opt) {
		case 'm': mib = parse_ulong(optarg, 1UL << 30); break;
		case 'H': hold = parse_ulong(optarg, 86400000); break;
		case 'r': rounds = parse_ulong(optarg, 1000000); break;
		case 'p': pause = parse_ulong(optarg, 86400000); break;
		case 'c': churn_s = parse_ulong(optarg, 86400); break;
		case 't': threads = parse_ulong(optarg, 256); break;
		case 's': seed = parse_ulong(optarg, UINT_MAX); break;
		case 'f': fault_s = parse_ulong(optarg, 86400); break;
		case 'F': frag = true; break;
		case 'C': compile_s = parse_ulong(optarg, 86400); break;
		case 'M': mark_dir = optarg; break;
		case 'h': fputs(usage, stdout); return 0;
		default:
			fprintf(stderr, "Try 'memhog -h' for more information.\n");
			return 2;
		}
	}
	if (optind < argc)
		die_usage("unexpected argument", argv[optind]);
	if (!mib || !rounds || !threads)
		die_usage("must be at least 1:", !mib ? "-m" : !rounds ? "-r" : "-t");
	if (churn_s)
		return churn(churn_s, mib, threads, seed);
	if (fault_s)
		return pagefault(fault_s, mib);
	if (compile_s)
		return compile_like(compile_s, mib, threads, seed);
	if (frag)
		return fragmented(mib, hold);
	return oneshot(mib, hold, rounds, pause);
}
