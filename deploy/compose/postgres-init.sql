-- One database per Kinbridge service (compose.yaml); the postgres image runs
-- this once, on an empty data volume, as POSTGRES_USER.
CREATE DATABASE progress;
CREATE DATABASE media;
CREATE DATABASE notification;
