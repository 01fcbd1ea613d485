/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef PACKD_THREADS_H
#define PACKD_THREADS_H

#include <glib.h>

G_BEGIN_DECLS

/* A small persistent thread pool for the engine's parallel loops.
 *
 * The engine owns the cores while it runs a forward: its kernels call
 * OpenBLAS (if at all) single-threaded from inside the pool's tasks, so no
 * second set of threads competes for the same cores.  n_threads counts the
 * calling thread, which works too: a pool of 2 starts one worker.  Workers
 * spin briefly after a job (the next layer follows within microseconds), then
 * sleep until the next one.
 *
 * One job at a time: when packd_threads_run() finds the pool busy with
 * another thread's job it runs its own tasks on the caller alone.  It must
 * not be called from inside a task. */

typedef struct _PackdThreads PackdThreads;

/* task in [0, n_tasks), thread in [0, n_threads) (0 is the caller); each task
 * runs exactly once, tasks are handed out in order as threads become free. */
typedef void (*PackdTaskFunc) (gpointer data, int task, int thread);

/* NULL (no error) when n_threads <= 1: callers pass a NULL pool to mean
 * "run inline". */
PackdThreads *packd_threads_new (int n_threads);
void packd_threads_free (PackdThreads *pool);
/* 1 for a NULL pool. */
int packd_threads_get_n (const PackdThreads *pool);
/* Runs func for every task and returns when all are done.  pool may be
 * NULL (runs inline on the caller). */
void packd_threads_run (PackdThreads *pool, int n_tasks, PackdTaskFunc func, gpointer data);

/* The process-wide pool of n_threads (NULL when n_threads <= 1), made on
 * first use and freed when its last user releases it.  Engine objects that
 * run one after the other on a frame (the teacher, the knn search) share it,
 * so its workers stay warm from one stage to the next, and two pipelines in
 * one process never run more engine threads than that: a job that finds the
 * pool busy runs on its caller alone. */
PackdThreads *packd_threads_acquire_shared (int n_threads);
void packd_threads_release_shared (PackdThreads *pool);

/* The default thread count for engine objects created without an explicit
 * one: the n-threads last set here, else OpenBLAS's thread count. */
int packd_threads_default (void);
void packd_threads_set_default (int n_threads);

G_END_DECLS

#endif /* PACKD_THREADS_H */
