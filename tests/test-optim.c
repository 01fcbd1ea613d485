/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
/* Adam: the bias-corrected first step, convergence on a quadratic, and
 * exact resume through a safetensors checkpoint. */
#include <check.h>
#include <math.h>
#include <string.h>

#include "packd-error.h"
#include "packd-optim.h"
#include "test-util.h"

/* f(p) = sum_i 0.5 a_i (p_i - c_i)^2 over two parameter tensors. */
typedef struct {
  float p1[7], g1[7], p2[3], g2[3];
  float a[10], c[10];
} Quadratic;

static void
quadratic_init (Quadratic *q, guint32 seed)
{
  GRand *rng = g_rand_new_with_seed (seed);
  for (int i = 0; i < 10; i++) {
    q->a[i] = (float) g_rand_double_range (rng, 0.5, 5);
    q->c[i] = (float) g_rand_double_range (rng, -2, 2);
  }
  for (int i = 0; i < 7; i++)
    q->p1[i] = (float) g_rand_double_range (rng, -3, 3);
  for (int i = 0; i < 3; i++)
    q->p2[i] = (float) g_rand_double_range (rng, -3, 3);
  g_rand_free (rng);
}

static PackdAdam *
quadratic_adam (Quadratic *q, float lr)
{
  PackdAdam *adam = packd_adam_new (lr, PACKD_ADAM_BETA1, PACKD_ADAM_BETA2, PACKD_ADAM_EPS);
  packd_adam_add_param (adam, "first", q->p1, q->g1, 7);
  packd_adam_add_param (adam, "second", q->p2, q->g2, 3);
  return adam;
}

static double
quadratic_step (Quadratic *q, PackdAdam *adam)
{
  double f = 0;
  packd_adam_zero_grad (adam);
  for (int i = 0; i < 10; i++) {
    float *p = i < 7 ? &q->p1[i] : &q->p2[i - 7];
    float *g = i < 7 ? &q->g1[i] : &q->g2[i - 7];
    *g += q->a[i] * (*p - q->c[i]);
    f += 0.5 * q->a[i] * (*p - q->c[i]) * (*p - q->c[i]);
  }
  packd_adam_step (adam);
  return f;
}

/* After one step m^ = g and v^ = g^2, so every parameter moves by
 * lr * g / (|g| + eps): the step size is lr regardless of the gradient's
 * scale -- only true with the bias correction. */
START_TEST (test_adam_first_step)
{
  Quadratic q, before;
  quadratic_init (&q, 1);
  before = q;
  PackdAdam *adam = quadratic_adam (&q, 0.01f);

  quadratic_step (&q, adam);
  ck_assert_int_eq (packd_adam_get_step (adam), 1);
  for (int i = 0; i < 10; i++) {
    const float p0 = i < 7 ? before.p1[i] : before.p2[i - 7];
    const float p1 = i < 7 ? q.p1[i] : q.p2[i - 7];
    const double want = p0 - 0.01 * (p0 > q.c[i] ? 1 : -1);
    ck_assert_msg (fabs (p1 - want) < 1e-6, "param %d: %g, expected %g", i, p1, want);
  }
  packd_adam_free (adam);
}
END_TEST

START_TEST (test_adam_converges)
{
  Quadratic q;
  quadratic_init (&q, 2);
  PackdAdam *adam = quadratic_adam (&q, 0.05f);
  const double f0 = quadratic_step (&q, adam);
  double f = f0;

  for (int s = 0; s < 1500; s++) {
    /* Decay the rate: constant-rate Adam hovers at ~lr from the minimum. */
    if (s == 500 || s == 1000)
      packd_adam_set_lr (adam, packd_adam_get_lr (adam) * 0.1f);
    f = quadratic_step (&q, adam);
  }
  ck_assert_msg (f < 1e-6 * f0, "quadratic went from %g to only %g", f0, f);
  for (int i = 0; i < 10; i++) {
    const float p = i < 7 ? q.p1[i] : q.p2[i - 7];
    ck_assert_msg (fabs (p - q.c[i]) < 2e-3, "param %d at %g, minimum %g", i, p, q.c[i]);
  }
  packd_adam_free (adam);
}
END_TEST

static char *
save_checkpoint (const Quadratic *q, const PackdAdam *adam)
{
  g_autofree char *dir = packd_test_make_tmp_dir ("optim");
  char *path = g_build_filename (dir, "ckpt.safetensors", NULL);
  PackdSafetensorsWriter *w = packd_safetensors_writer_new ();
  const int64_t n1 = 7, n2 = 3;
  PackdTensor t;
  GError *error = NULL;

  packd_tensor_init (&t, 1, &n1, (float *) q->p1);
  packd_safetensors_writer_add (w, "first", &t);
  packd_tensor_init (&t, 1, &n2, (float *) q->p2);
  packd_safetensors_writer_add (w, "second", &t);
  packd_adam_save_state (adam, w);
  ck_assert_msg (packd_safetensors_writer_save (w, path, &error), "%s",
      error ? error->message : "");
  packd_safetensors_writer_free (w);
  return path;
}

static void
remove_checkpoint (char *path)
{
  g_autofree char *dir = g_path_get_dirname (path);
  packd_test_remove_tree (dir);
  g_free (path);
}

/* 20 steps, checkpoint, 20 more in a fresh optimiser restored from the
 * file == 40 uninterrupted steps, bit for bit. */
START_TEST (test_adam_resume_exact)
{
  Quadratic straight, resumed;
  quadratic_init (&straight, 3);
  resumed = straight;
  PackdAdam *a_straight = quadratic_adam (&straight, 0.03f);
  PackdAdam *a_first = quadratic_adam (&resumed, 0.03f);
  GError *error = NULL;

  for (int s = 0; s < 40; s++)
    quadratic_step (&straight, a_straight);
  for (int s = 0; s < 20; s++)
    quadratic_step (&resumed, a_first);
  char *path = save_checkpoint (&resumed, a_first);
  packd_adam_free (a_first);

  /* A new process: parameters and optimiser from the file only. */
  memset (resumed.p1, 0, sizeof resumed.p1);
  memset (resumed.p2, 0, sizeof resumed.p2);
  PackdSafetensors *st = packd_safetensors_open (path, &error);
  ck_assert_msg (st != NULL, "%s", error ? error->message : "");
  PackdTensor t;
  ck_assert (packd_safetensors_get (st, "first", 0, NULL, &t, NULL));
  memcpy (resumed.p1, t.data, sizeof resumed.p1);
  ck_assert (packd_safetensors_get (st, "second", 0, NULL, &t, NULL));
  memcpy (resumed.p2, t.data, sizeof resumed.p2);
  PackdAdam *a_second = quadratic_adam (&resumed, 0.5f);    /* lr restored from the file */
  ck_assert_msg (packd_adam_load_state (a_second, st, &error), "%s", error ? error->message : "");
  packd_safetensors_free (st);
  ck_assert_int_eq (packd_adam_get_step (a_second), 20);
  ck_assert_float_eq (packd_adam_get_lr (a_second), 0.03f);

  for (int s = 0; s < 20; s++)
    quadratic_step (&resumed, a_second);
  ck_assert_int_eq (packd_adam_get_step (a_second), 40);
  ck_assert (memcmp (straight.p1, resumed.p1, sizeof straight.p1) == 0);
  ck_assert (memcmp (straight.p2, resumed.p2, sizeof straight.p2) == 0);
  packd_adam_free (a_straight);
  packd_adam_free (a_second);
  remove_checkpoint (path);
}
END_TEST

/* A checkpoint that does not fit (other parameters, other sizes) is a
 * GError and leaves the optimiser untouched. */
START_TEST (test_adam_load_mismatch)
{
  Quadratic q;
  quadratic_init (&q, 4);
  PackdAdam *adam = quadratic_adam (&q, 0.03f);
  for (int s = 0; s < 3; s++)
    quadratic_step (&q, adam);
  char *path = save_checkpoint (&q, adam);
  PackdSafetensors *st = packd_safetensors_open (path, NULL);
  float p[7] = { 0 }, g[7] = { 0 };
  GError *error = NULL;

  ck_assert_ptr_nonnull (st);
  PackdAdam *other = packd_adam_new (0.1f, 0.9f, 0.99f, 1e-6f);
  packd_adam_add_param (other, "third", p, g, 7);
  ck_assert (!packd_adam_load_state (other, st, &error));
  ck_assert (g_error_matches (error, PACKD_ERROR, PACKD_ERROR_MODEL));
  g_clear_error (&error);
  ck_assert_int_eq (packd_adam_get_step (other), 0);
  ck_assert_float_eq (packd_adam_get_lr (other), 0.1f);
  packd_adam_free (other);

  other = packd_adam_new (0.1f, 0.9f, 0.99f, 1e-6f);
  packd_adam_add_param (other, "second", p, g, 7);    /* saved with 3 */
  ck_assert (!packd_adam_load_state (other, st, &error));
  ck_assert (g_error_matches (error, PACKD_ERROR, PACKD_ERROR_MODEL));
  g_clear_error (&error);
  ck_assert_int_eq (packd_adam_get_step (other), 0);
  packd_adam_free (other);
  packd_safetensors_free (st);
  remove_checkpoint (path);

  /* Metadata missing altogether: not an optimiser checkpoint. */
  PackdSafetensorsWriter *w = packd_safetensors_writer_new ();
  g_autofree char *dir = packd_test_make_tmp_dir ("optim");
  char *bare = g_build_filename (dir, "bare.safetensors", NULL);
  const int64_t n = 7;
  PackdTensor t;
  packd_tensor_init (&t, 1, &n, p);
  packd_safetensors_writer_add (w, "adam.m.first", &t);
  packd_safetensors_writer_set_metadata (w, "adam.step", "12x");
  ck_assert (packd_safetensors_writer_save (w, bare, NULL));
  packd_safetensors_writer_free (w);
  st = packd_safetensors_open (bare, NULL);
  ck_assert (!packd_adam_load_state (adam, st, &error));
  ck_assert (g_error_matches (error, PACKD_ERROR, PACKD_ERROR_FORMAT));
  g_clear_error (&error);
  ck_assert_int_eq (packd_adam_get_step (adam), 3);
  packd_safetensors_free (st);
  remove_checkpoint (bare);
  packd_adam_free (adam);
}
END_TEST

static Suite *
optim_suite (void)
{
  Suite *s = suite_create ("optim");
  TCase *tc = tcase_create ("adam");
  tcase_add_test (tc, test_adam_first_step);
  tcase_add_test (tc, test_adam_converges);
  tcase_add_test (tc, test_adam_resume_exact);
  tcase_add_test (tc, test_adam_load_mismatch);
  suite_add_tcase (s, tc);
  return s;
}

int
main (void)
{
  return packd_test_run (optim_suite ());
}
