-- An SQLite workload for the malloc shim (tools/shim-check.sh): thousands of
-- inserts, updates, deletes and queries on a database file, run once with the
-- system malloc and once under LD_PRELOAD=libkmalloc.so.  The output must be
-- identical: every query has an ORDER BY or returns one row.
.bail on
PRAGMA journal_mode = WAL;
PRAGMA cache_size = -20000;

CREATE TABLE customer (id INTEGER PRIMARY KEY, name TEXT NOT NULL, city TEXT, since INTEGER);
CREATE TABLE item (id INTEGER PRIMARY KEY, title TEXT NOT NULL, price REAL, stock INTEGER);
CREATE TABLE orders (id INTEGER PRIMARY KEY, customer INTEGER REFERENCES customer(id),
                     item INTEGER REFERENCES item(id), qty INTEGER, note TEXT);

-- 3000 customers and 2000 items: recursive CTEs, one row inserted at a time
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000)
INSERT INTO customer (id, name, city, since)
SELECT i, 'customer-' || printf('%05d', i) || '-' || printf('%04X', i * 2654435761 % 65536),
       CASE i % 7 WHEN 0 THEN 'Berlin' WHEN 1 THEN 'Lyon' WHEN 2 THEN 'Oslo' WHEN 3 THEN 'Porto'
                  WHEN 4 THEN 'Riga' WHEN 5 THEN 'Turin' ELSE 'Zagreb' END,
       2000 + i % 24
FROM n;

WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000)
INSERT INTO item (id, title, price, stock)
SELECT i, 'item ' || i || ' ' || substr('abcdefghijklmnopqrstuvwxyz', 1 + i % 20, 6),
       round((i * 37 % 1000) / 10.0 + 0.99, 2), (i * 13) % 500
FROM n;

-- 20000 orders in one transaction
BEGIN;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000)
INSERT INTO orders (id, customer, item, qty, note)
SELECT i, 1 + (i * 7919) % 3000, 1 + (i * 104729) % 2000, 1 + i % 9,
       CASE WHEN i % 5 = 0 THEN printf('gift wrap #%d %s', i, zeroblob(i % 50)) END
FROM n;
COMMIT;

-- single-row inserts through a trigger: every insert into `log` runs one more statement
CREATE TABLE log (id INTEGER PRIMARY KEY, msg TEXT);
CREATE TABLE audit (n INTEGER);
INSERT INTO audit VALUES (0);
CREATE TRIGGER log_count AFTER INSERT ON log BEGIN UPDATE audit SET n = n + 1; END;
BEGIN;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5000)
INSERT INTO log (msg) SELECT printf('event %d: %s', i, upper(hex(i * 2654435761 % 4294967296)))
FROM n;
COMMIT;

CREATE INDEX orders_customer ON orders(customer);
CREATE INDEX orders_item ON orders(item);
CREATE INDEX customer_city ON customer(city, since);

SELECT 'counts', (SELECT count(*) FROM customer), (SELECT count(*) FROM item),
       (SELECT count(*) FROM orders), (SELECT count(*) FROM log), (SELECT n FROM audit);

-- joins and aggregates
SELECT c.city, count(*) AS orders, sum(o.qty) AS qty, round(sum(o.qty * i.price), 2) AS revenue
FROM orders o JOIN customer c ON c.id = o.customer JOIN item i ON i.id = o.item
GROUP BY c.city ORDER BY revenue DESC;

SELECT c.name, round(sum(o.qty * i.price), 2) AS spent
FROM orders o JOIN customer c ON c.id = o.customer JOIN item i ON i.id = o.item
GROUP BY c.id ORDER BY spent DESC, c.name LIMIT 10;

-- 3000 correlated subqueries, each an index lookup
SELECT 'busiest', max(n), min(n), sum(n) FROM (
  SELECT (SELECT count(*) FROM orders WHERE customer = c.id) AS n FROM customer c);

-- window functions and sorting of large intermediate results
SELECT id, title, price, rank() OVER (ORDER BY price DESC, id) AS r
FROM item ORDER BY r LIMIT 5;
SELECT customer, qty, running FROM (
  SELECT customer, qty, sum(qty) OVER (PARTITION BY customer ORDER BY id) AS running,
         row_number() OVER (PARTITION BY customer ORDER BY id DESC) AS rn
  FROM orders) WHERE rn = 1 ORDER BY running DESC, customer LIMIT 5;

-- updates and deletes, then the same questions again
UPDATE item SET price = round(price * 1.1, 2) WHERE id % 3 = 0;
UPDATE orders SET note = coalesce(note, '') || ' (repriced)' WHERE item % 3 = 0;
DELETE FROM orders WHERE qty = 1 AND customer % 4 = 0;
DELETE FROM log WHERE id % 2 = 0;
SELECT 'after', (SELECT count(*) FROM orders), (SELECT count(*) FROM log),
       (SELECT round(sum(price), 2) FROM item), (SELECT sum(length(note)) FROM orders);

-- text functions, LIKE scans, GROUP_CONCAT of big strings
SELECT city, count(*), length(group_concat(name, ',')) FROM customer
WHERE name LIKE '%-4_' OR name LIKE '%7%' GROUP BY city ORDER BY city;
SELECT substr(msg, 1, 12), count(*) FROM log GROUP BY substr(msg, 1, 8) ORDER BY 2 DESC, 1 LIMIT 3;

-- a temporary B-tree per DISTINCT and per UNION
SELECT count(*) FROM (SELECT DISTINCT customer, item FROM orders);
SELECT count(*) FROM (SELECT customer AS x FROM orders UNION SELECT item FROM orders);

PRAGMA integrity_check;
VACUUM;
SELECT 'vacuumed', count(*) FROM orders;
