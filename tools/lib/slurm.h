/*
 * slurm.h - the slurm launcher, for task.c, slurm.c and the watcher: a task's make
 * run as a Slurm batch job (performance.launcher: slurm).
 */
#ifndef EC_SLURM_H
#define EC_SLURM_H

#include "ec.h"

/* o's launcher from cfg (performance.launcher, .slurm); with slurm, a spool on tmpfs
 * or ramfs is refused (EC_EXIT_REJECT: no node sees it). o kept on failure. */
int ec_slurm_configure(ec_task_opts *o, const json_t *cfg, const char *spool, ec_err *e);

/* In the child about to run the job (pipeline_child done, stdout to the pipe the
 * launcher reads): exec the submitter, sbatch --wait of make -f mk in j->dir.
 * Returns only when the exec failed. */
void ec_slurm_exec(const ec_task_job *j, const ec_task_opts *o, const char *mk);
/* Read what the submitter said so far (final 1: it has ended, read all of it; 2:
 * wait for the job id): the job id, recorded in the task as slurm.json, and how the
 * job ended. Waits at most a few seconds. */
void ec_slurm_read(ec_task_job *j, int final);
/* 1 when the task's last job (slurm.json) is still in flight (pending, running,
 * completing) or Slurm cannot say (e says which); 0 when there is none or it has
 * ended. */
int ec_slurm_busy(const char *spool, const ec_task_job *j, ec_err *e);
/* The verdict of an ended job from its state (COMPLETED and FAILED: j->status is set
 * to the job's exit and -1 returned, for task.c to judge as make's; TIMEOUT,
 * CANCELLED, NODE_FAIL and the rest: EC_EXIT_TEMP with e). */
int ec_slurm_verdict(ec_task_job *j, ec_err *e);
/* Stop: scancel the job (performance.slurm.onStop: cancel) or leave it running,
 * then end the submitter. */
void ec_slurm_stop(ec_task_job *j);

#endif
