/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "packd-threads.h"

#include <cblas.h>

/* How long an idle worker keeps polling for the next job before it sleeps.
 * Consecutive layers of a forward start within microseconds of each other;
 * between frames the workers sleep and cost nothing. */
#define WORKER_SPIN_US 200

/* A worker's part in the current job.  The caller offers every job to every
 * worker; a worker that takes it up (OFFERED -> RUNNING) before the caller
 * has run out of tasks helps, one that wakes too late finds its offer
 * withdrawn (OFFERED -> IDLE) and the caller never waits for it. */
enum { SLOT_IDLE, SLOT_OFFERED, SLOT_RUNNING };

struct _PackdThreads {
  int n_threads;
  int shared_refs;              /* shared pools: users (under shared_lock) */
  GMutex busy;                  /* held by the job running on the pool */
  GThread **workers;            /* n_threads - 1 */
  gint *slots;                  /* atomic, per worker */
  GMutex lock;                  /* with wake: sleeping and waking workers */
  GCond wake;
  gint n_sleeping;              /* atomic */
  gint generation;              /* atomic: bumped once per job */
  gint quit;                    /* atomic */
  /* the current job, written before generation is bumped */
  PackdTaskFunc func;
  gpointer data;
  gint n_tasks;
  gint next_task;               /* atomic */
};

typedef struct {
  PackdThreads *pool;
  int index;
} WorkerArg;

static gint default_threads = 0;

/* Shared pools, one per thread count, while someone uses them. */
static GMutex shared_lock;
static GPtrArray *shared_pools;

static inline void
cpu_relax (void)
{
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause ();
#elif defined(__aarch64__)
  __asm__ __volatile__ ("yield");
#endif
}

static void
run_tasks (PackdThreads *pool, PackdTaskFunc func, gpointer data, int n_tasks, int thread)
{
  int t;

  while ((t = g_atomic_int_add (&pool->next_task, 1)) < n_tasks)
    func (data, t, thread);
}

/* Waits until generation differs from seen; FALSE when asked to quit. */
static gboolean
worker_wait (PackdThreads *pool, gint seen)
{
  gint64 deadline = 0;

  for (int spins = 0;; spins++) {
    if (g_atomic_int_get (&pool->generation) != seen || g_atomic_int_get (&pool->quit))
      return !g_atomic_int_get (&pool->quit);
    cpu_relax ();
    if ((spins & 255) == 255) {
      gint64 now = g_get_monotonic_time ();
      if (deadline == 0)
        deadline = now + WORKER_SPIN_US;
      else if (now > deadline)
        break;
    }
  }
  g_mutex_lock (&pool->lock);
  g_atomic_int_inc (&pool->n_sleeping);
  while (g_atomic_int_get (&pool->generation) == seen && !g_atomic_int_get (&pool->quit))
    g_cond_wait (&pool->wake, &pool->lock);
  g_atomic_int_add (&pool->n_sleeping, -1);
  g_mutex_unlock (&pool->lock);
  return !g_atomic_int_get (&pool->quit);
}

static gpointer
worker_main (gpointer user_data)
{
  WorkerArg *arg = user_data;
  PackdThreads *pool = arg->pool;
  const int index = arg->index;
  gint seen = 0;

  g_free (arg);
  while (worker_wait (pool, seen)) {
    seen = g_atomic_int_get (&pool->generation);
    /* The job fields are written before the offer: read them after taking it. */
    if (g_atomic_int_compare_and_exchange (&pool->slots[index - 1], SLOT_OFFERED, SLOT_RUNNING)) {
      run_tasks (pool, pool->func, pool->data, pool->n_tasks, index);
      g_atomic_int_set (&pool->slots[index - 1], SLOT_IDLE);
    }
  }
  return NULL;
}

PackdThreads *
packd_threads_new (int n_threads)
{
  PackdThreads *pool;

  if (n_threads <= 1)
    return NULL;
  pool = g_new0 (PackdThreads, 1);
  pool->n_threads = n_threads;
  g_mutex_init (&pool->busy);
  g_mutex_init (&pool->lock);
  g_cond_init (&pool->wake);
  pool->workers = g_new0 (GThread *, n_threads - 1);
  pool->slots = g_new0 (gint, n_threads - 1);
  for (int i = 0; i < n_threads - 1; i++) {
    WorkerArg *arg = g_new (WorkerArg, 1);
    arg->pool = pool;
    arg->index = i + 1;
    pool->workers[i] = g_thread_new ("packd-worker", worker_main, arg);
  }
  return pool;
}

static void
wake_sleepers (PackdThreads *pool)
{
  /* A worker increments n_sleeping before its last look at generation (both
   * sequentially consistent), so either it sees the new job or we see it. */
  if (g_atomic_int_get (&pool->n_sleeping) > 0) {
    g_mutex_lock (&pool->lock);
    g_cond_broadcast (&pool->wake);
    g_mutex_unlock (&pool->lock);
  }
}

void
packd_threads_free (PackdThreads *pool)
{
  if (pool == NULL)
    return;
  g_atomic_int_set (&pool->quit, 1);
  g_mutex_lock (&pool->lock);
  g_cond_broadcast (&pool->wake);
  g_mutex_unlock (&pool->lock);
  for (int i = 0; i < pool->n_threads - 1; i++)
    g_thread_join (pool->workers[i]);
  g_free (pool->workers);
  g_free (pool->slots);
  g_mutex_clear (&pool->busy);
  g_mutex_clear (&pool->lock);
  g_cond_clear (&pool->wake);
  g_free (pool);
}

int
packd_threads_get_n (const PackdThreads *pool)
{
  return pool ? pool->n_threads : 1;
}

void
packd_threads_run (PackdThreads *pool, int n_tasks, PackdTaskFunc func, gpointer data)
{
  if (n_tasks <= 0)
    return;
  /* A pool busy with another caller's job: run alone rather than add
   * threads (the cores are taken). */
  if (pool == NULL || n_tasks == 1 || !g_mutex_trylock (&pool->busy)) {
    for (int t = 0; t < n_tasks; t++)
      func (data, t, 0);
    return;
  }
  pool->func = func;
  pool->data = data;
  pool->n_tasks = n_tasks;
  g_atomic_int_set (&pool->next_task, 0);
  for (int w = 0; w < pool->n_threads - 1; w++)
    g_atomic_int_set (&pool->slots[w], SLOT_OFFERED);
  g_atomic_int_inc (&pool->generation);
  wake_sleepers (pool);

  run_tasks (pool, func, data, n_tasks, 0);
  for (int w = 0; w < pool->n_threads - 1; w++) {
    g_atomic_int_compare_and_exchange (&pool->slots[w], SLOT_OFFERED, SLOT_IDLE);
    /* Tasks still running elsewhere are short; yield if their worker was
     * descheduled. */
    for (int spins = 0; g_atomic_int_get (&pool->slots[w]) == SLOT_RUNNING; spins++) {
      if (spins < 4096)
        cpu_relax ();
      else
        g_thread_yield ();
    }
  }
  g_mutex_unlock (&pool->busy);
}

PackdThreads *
packd_threads_acquire_shared (int n_threads)
{
  PackdThreads *pool = NULL;

  if (n_threads <= 1)
    return NULL;
  g_mutex_lock (&shared_lock);
  if (shared_pools == NULL)
    shared_pools = g_ptr_array_new ();
  for (guint i = 0; i < shared_pools->len && pool == NULL; i++)
    if (((PackdThreads *) g_ptr_array_index (shared_pools, i))->n_threads == n_threads)
      pool = g_ptr_array_index (shared_pools, i);
  if (pool == NULL) {
    pool = packd_threads_new (n_threads);
    g_ptr_array_add (shared_pools, pool);
  }
  pool->shared_refs++;
  g_mutex_unlock (&shared_lock);
  return pool;
}

void
packd_threads_release_shared (PackdThreads *pool)
{
  gboolean last;

  if (pool == NULL)
    return;
  g_mutex_lock (&shared_lock);
  last = --pool->shared_refs == 0;
  if (last)
    g_ptr_array_remove_fast (shared_pools, pool);
  g_mutex_unlock (&shared_lock);
  if (last)
    packd_threads_free (pool);
}

int
packd_threads_default (void)
{
  int n = g_atomic_int_get (&default_threads);
  return n > 0 ? n : MAX (openblas_get_num_threads (), 1);
}

void
packd_threads_set_default (int n_threads)
{
  g_atomic_int_set (&default_threads, MAX (n_threads, 0));
}
