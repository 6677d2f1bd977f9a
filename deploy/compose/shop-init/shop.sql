-- The example resource: database `shop`, reached by Ward as role `app`.
CREATE ROLE app LOGIN PASSWORD 'app-password-change-me';
CREATE DATABASE shop OWNER app;
\connect shop
SET ROLE app;
CREATE TABLE customers (id int PRIMARY KEY, name text, email text, card text);
INSERT INTO customers VALUES
  (1, 'Ada Lovelace', 'ada@example.com', '4111 1111 1111 1111'),
  (2, 'Alan Turing', 'alan@example.com', '5500 0000 0000 0004');
