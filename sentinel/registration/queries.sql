-- name: register
-- Upsert by name. The caller holds the name's advisory lock, so no other live
-- process owns this row: a previous owner with this name is dead.
INSERT INTO worker AS w (name, worker_type, worker_role, runtime, host, port, status,
                         capabilities, meta, last_heartbeat)
VALUES (%(name)s, %(worker_type)s, %(worker_role)s, %(runtime)s, %(host)s, %(port)s, 'active',
        %(capabilities)s, %(meta)s, coalesce(%(now)s::timestamptz, now()))
ON CONFLICT (name) DO UPDATE
   SET worker_type = EXCLUDED.worker_type,
       worker_role = EXCLUDED.worker_role,
       runtime = EXCLUDED.runtime,
       host = EXCLUDED.host,
       port = EXCLUDED.port,
       status = 'active',
       capabilities = EXCLUDED.capabilities,
       meta = EXCLUDED.meta,
       last_heartbeat = coalesce(%(now)s::timestamptz, now()),
       updated = coalesce(%(now)s::timestamptz, now())
RETURNING w.id

-- name: requeue_orphans
-- Runs this worker's row holds but this process is not working on: left by a
-- dead predecessor with the same name, or by this process before it lost its row.
UPDATE run
   SET status = CASE WHEN attempts >= max_attempts THEN 'dead'::run_status
                     ELSE 'queued'::run_status END,
       lease_owner = NULL,
       lease_expires_at = NULL,
       not_before = coalesce(%(now)s::timestamptz, now()),
       recovered = recovered + 1,
       error = 'recovered: its worker restarted'
 WHERE lease_owner = %(worker_id)s
   AND status = 'running'
   AND NOT (id = ANY(%(in_hand)s::bigint[]))

-- name: holder
-- Who holds a name, for the refusal message.
SELECT host, meta->>'pid' AS pid, status,
       extract(epoch FROM now() - last_heartbeat)::float AS age
  FROM worker WHERE name = %(name)s

-- name: heartbeat
-- Refresh this worker's heartbeat and extend the leases of the runs it is
-- working on (%(in_hand)s): one statement, the database clock. A run the
-- row still owns but the process gave up on (a pass that failed in an outage
-- and could not say so) is not renewed: its lease runs out and the sweep puts
-- it back in the queue. No row back from `me` means the fleet marked us inactive.
WITH me AS (
    UPDATE worker
       SET last_heartbeat = coalesce(%(now)s::timestamptz, now()),
           updated = coalesce(%(now)s::timestamptz, now())
     WHERE id = %(worker_id)s AND status <> 'inactive'
 RETURNING id
), renewed AS (
    UPDATE run
       SET lease_expires_at = coalesce(%(now)s::timestamptz, now())
                              + make_interval(secs => %(lease_seconds)s)
     WHERE lease_owner IN (SELECT id FROM me) AND status = 'running'
       AND id = ANY(%(in_hand)s::bigint[])
 RETURNING run.id
)
SELECT EXISTS (SELECT 1 FROM me) AS active,
       ARRAY(SELECT id FROM renewed) AS renewed,
       -- In hand, not renewed, and not finished by this worker meanwhile (a
       -- pass that completed just before this beat is not lost): taken over.
       ARRAY(SELECT h.id FROM unnest(%(in_hand)s::bigint[]) AS h(id)
              WHERE h.id NOT IN (SELECT id FROM renewed)
                AND NOT EXISTS (SELECT 1 FROM run r
                                 WHERE r.id = h.id AND r.lease_owner = %(worker_id)s
                                   AND r.status IN ('succeeded', 'failed', 'dead'))) AS lost,
       coalesce(%(now)s::timestamptz, now()) AS db_now

-- name: set_status
UPDATE worker SET status = %(status)s, updated = coalesce(%(now)s::timestamptz, now())
 WHERE id = %(worker_id)s

-- name: set_capabilities
UPDATE worker SET capabilities = %(capabilities)s, updated = now() WHERE id = %(worker_id)s

-- name: deregister
-- Graceful shutdown: inactive, and the runs still held go back to the queue now.
WITH me AS (
    UPDATE worker SET status = 'inactive', updated = coalesce(%(now)s::timestamptz, now())
     WHERE id = %(worker_id)s
 RETURNING id
)
UPDATE run
   SET status = 'queued', lease_owner = NULL, lease_expires_at = NULL,
       not_before = coalesce(%(now)s::timestamptz, now())
 WHERE lease_owner IN (SELECT id FROM me) AND status = 'running'

-- name: sweep
-- Mark dead workers inactive and requeue their runs in the same statement.
-- Dead: its session-level advisory lock is gone (the process or its connection
-- died: noticed within a second), or it missed its heartbeats (paused,
-- partitioned). Locks are not judged in the first moments after the server
-- started, while every worker re-takes its lock after a restart. A worker
-- still heartbeating keeps the runs it works on, however long its pass takes,
-- because each heartbeat renews them. Then requeue every run whose lease
-- expired: no live worker is renewing it, whatever its owner's row says.
WITH dead AS (
    UPDATE worker w
       SET status = 'inactive', updated = coalesce(%(now)s::timestamptz, now())
     WHERE w.status <> 'inactive'
       AND w.id <> %(worker_id)s
       AND (w.last_heartbeat < coalesce(%(now)s::timestamptz, now())
                               - make_interval(secs => %(stale_seconds)s)
            OR (coalesce(%(now)s::timestamptz, now()) - pg_postmaster_start_time()
                    > make_interval(secs => %(lock_grace)s)
                AND NOT EXISTS (
                SELECT 1 FROM pg_locks l
                 WHERE l.locktype = 'advisory'
                   AND l.database = (SELECT oid FROM pg_database
                                      WHERE datname = current_database())
                   AND l.classid = %(lock_class)s
                   AND l.objid = hashtext(w.name)::oid
                   AND l.objsubid = 2
                   AND l.granted)))
 RETURNING w.id, w.name
), recovered AS (
    UPDATE run r
       SET status = CASE WHEN r.attempts >= r.max_attempts THEN 'dead'::run_status
                         ELSE 'queued'::run_status END,
           lease_owner = NULL,
           lease_expires_at = NULL,
           not_before = coalesce(%(now)s::timestamptz, now()),
           recovered = r.recovered + 1,
           error = 'recovered: ' || coalesce(
               (SELECT 'worker ' || dead.name || ' died' FROM dead WHERE dead.id = r.lease_owner),
               'lease expired')
     WHERE r.status = 'running'
       AND (r.lease_owner IN (SELECT id FROM dead)
            OR r.lease_expires_at < coalesce(%(now)s::timestamptz, now()))
 RETURNING r.error LIKE 'recovered: worker %%' AS orphaned
)
SELECT ARRAY(SELECT name FROM dead) AS dead,
       (SELECT count(*) FROM recovered WHERE orphaned) AS requeued,
       (SELECT count(*) FROM recovered WHERE NOT orphaned) AS expired

-- name: prune
-- Forget workers inactive for longer than the given age.
DELETE FROM worker
 WHERE status = 'inactive' AND updated < now() - make_interval(secs => %(older_than)s)
RETURNING name

-- name: take_lock
-- The liveness lock, on the worker's session connection: a session-level
-- advisory lock that the server drops the moment the session ends, however
-- the process died. False while another live session holds the name.
SELECT pg_try_advisory_lock(%(lock_class)s, hashtext(%(name)s))

-- name: sweep_turn
-- One sweeper per tick, fleet-wide. The tick's number on the database clock
-- keys a session-level advisory lock (on the session connection): the first
-- worker to ask in a tick gets it and sweeps, every other one gets false and
-- skips, for one cheap statement. Its holder keeps it for the rest of the
-- tick (so nobody else gets that tick), and gives it back at its next turn;
-- a holder that dies or pauses costs the fleet at most that one tick. Asking
-- again for the tick it holds is false (a session lock is re-entrant).
WITH tick AS (
    SELECT floor(extract(epoch FROM coalesce(%(now)s::timestamptz, now()))
                 / %(check_seconds)s)::bigint AS n
), turn AS MATERIALIZED (
    SELECT n, CASE WHEN n IS DISTINCT FROM %(held)s::bigint
                   THEN pg_try_advisory_lock(%(turn_class)s, (n %% 2147483648)::int)
                   ELSE false END AS mine
      FROM tick
)
SELECT n, mine,
       CASE WHEN mine AND %(held)s::bigint IS NOT NULL
            THEN pg_advisory_unlock(%(turn_class)s, (%(held)s::bigint %% 2147483648)::int)
       END AS released
  FROM turn
