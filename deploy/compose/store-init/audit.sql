-- The audit store: `ward_admin` owns the schema (`ward store migrate`), `ward` is the role the
-- replicas write with: SELECT and INSERT on the evidence, nothing that could rewrite it.
CREATE ROLE ward_admin LOGIN PASSWORD 'admin-password-change-me';
CREATE ROLE ward LOGIN PASSWORD 'ward-password-change-me';
CREATE DATABASE audit OWNER ward_admin;
