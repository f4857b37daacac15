-- 0005: the availability groups and failover cluster instances discovery last found, so that --offline plans from them and a changed topology is noticed.
CREATE TABLE availability_replicas (
  id                    INTEGER PRIMARY KEY,
  ag_name               TEXT    NOT NULL COLLATE NOCASE,
  server                TEXT    NOT NULL COLLATE NOCASE,
  instance              TEXT    NOT NULL COLLATE NOCASE,
  role                  TEXT    CHECK (role IN ('primary', 'secondary')),
  availability_mode     TEXT    NOT NULL,
  failover_mode         TEXT    NOT NULL,
  synchronization_state TEXT,
  seen_at               TEXT    NOT NULL,
  UNIQUE (ag_name, server, instance)
);

CREATE TABLE failover_cluster_instances (
  id       INTEGER PRIMARY KEY,
  server   TEXT NOT NULL COLLATE NOCASE,
  instance TEXT NOT NULL COLLATE NOCASE,
  nodes    TEXT NOT NULL,
  owner    TEXT NOT NULL,
  seen_at  TEXT NOT NULL,
  UNIQUE (server, instance)
);
