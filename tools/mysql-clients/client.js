// Node's mysql2 driver through Ward's MySQL listener, for Ward's tests.
//
//   node client.js mysql2-text     [OPTIONS]   // connection.query: the text protocol
//   node client.js mysql2-prepared [OPTIONS]   // connection.execute: prepared statements
//                                              // (COM_STMT_PREPARE/EXECUTE, binary rows)
//
// OPTIONS (each falls back to an environment variable): --host (MYSQL_HOST, 127.0.0.1),
// --port (MYSQL_PORT), --user (MYSQL_USER: the Ward user), --password (MYSQL_PWD: the Ward
// password or token), --database (MYSQL_DATABASE: the Ward resource), --ca (MYSQL_CA: the PEM
// file of Ward's CA).
//
// Both modes log in over TLS, checking Ward's certificate and name against the CA, and run the
// same fixed script as client.py (a table, rows with a card number, a select, an update, more
// than one result set, an error and a statement after it), then try a login trusting only
// Node's bundled CAs, which must fail. Each step prints one JSON line; a step that fails when
// it should not prints its error and the script exits 1.
'use strict';

const fs = require('node:fs');
const { parseArgs } = require('node:util');
const mysql = require('mysql2/promise');
const { version } = require('mysql2/package.json');

const CARD = '4111 1111 1111 1111';
const ROWS = [
  [1, 'apple', CARD],
  [2, 'pear', null],
];
const PROCEDURE =
  'CREATE PROCEDURE two_sets() BEGIN ' +
  'SELECT id FROM items ORDER BY id; SELECT count(*) AS n FROM items; END';

function emit(step, fields) {
  process.stdout.write(`${JSON.stringify({ step, ...fields })}\n`);
}

function errorOf(e) {
  return {
    type: e.constructor.name,
    errno: e.errno ?? null,
    sqlstate: e.sqlState ?? null,
    code: e.code ?? null,
    message: e.sqlMessage ?? e.message,
  };
}

// Runs one step; an error it did not expect ends the script after saying which step.
async function step(name, body) {
  try {
    emit(name, await body());
  } catch (e) {
    emit(name, { failed: errorOf(e) });
    process.exit(1);
  }
}

// One result of query/execute: its column names and rows, or what it changed.
function resultSet(rows, fields) {
  if (!Array.isArray(rows)) {
    return { columns: null, affected: rows.affectedRows };
  }
  return { columns: fields.map((f) => f.name), rows: rows.map((r) => [...r]) };
}

// Every result of a statement that gave more than one (a multi-statement, a CALL), without
// the CALL's closing status.
function sets(rows, fields) {
  return rows
    .map((r, i) => resultSet(r, fields[i]))
    .filter((s) => s.columns);
}

function options(args, ca) {
  return {
    host: args.host,
    port: Number(args.port),
    user: args.user,
    password: args.password,
    database: args.database,
    ssl: { ca, rejectUnauthorized: true, verifyIdentity: true },
    // Rows as arrays, so columns keep their order.
    rowsAsArray: true,
    multipleStatements: true,
    connectTimeout: 10000,
  };
}

async function script(conn, prepared) {
  // `execute` prepares each statement on the server and runs it with binary parameters;
  // `query` quotes the parameters into the text itself.
  const run = (sql, params) => (prepared ? conn.execute(sql, params) : conn.query(sql, params));
  await step('create', async () => {
    const [r] = await run(
      'CREATE TABLE items (id int PRIMARY KEY, name text, card varchar(32))',
      []
    );
    return { affected: r.affectedRows };
  });
  await step('insert', async () => {
    const [r] = await run(
      'INSERT INTO items (id, name, card) VALUES (?, ?, ?), (?, ?, ?)',
      ROWS.flat()
    );
    return { affected: r.affectedRows };
  });
  await step('select', async () => {
    const [rows, fields] = await run(
      'SELECT id, name, card FROM items WHERE id >= ? ORDER BY id',
      [1]
    );
    return resultSet(rows, fields);
  });
  await step('update', async () => {
    const [r] = await run('UPDATE items SET name = ? WHERE id = ?', ['banana', 2]);
    return { affected: r.affectedRows };
  });
  if (!prepared) {
    // A multi-statement cannot be prepared.
    await step('multi', async () => {
      const [rows, fields] = await conn.query("SELECT 1 AS a; SELECT 'two' AS b, 2 AS c");
      return { sets: sets(rows, fields) };
    });
  }
  await step('procedure', async () => {
    await conn.query(PROCEDURE);
    const [rows, fields] = await run('CALL two_sets()', []);
    return { sets: sets(rows, fields) };
  });
  try {
    await run('SELECT * FROM no_such_table', []);
    emit('error', { failed: { message: 'no error' } });
    process.exit(1);
  } catch (e) {
    emit('error', errorOf(e));
  }
  await step('after_error', async () => {
    const [rows, fields] = await run("SELECT 'still here' AS s", []);
    return resultSet(rows, fields);
  });
}

async function main() {
  const env = process.env;
  const { values: args, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      host: { type: 'string', default: env.MYSQL_HOST ?? '127.0.0.1' },
      port: { type: 'string', default: env.MYSQL_PORT },
      user: { type: 'string', default: env.MYSQL_USER },
      password: { type: 'string', default: env.MYSQL_PWD },
      database: { type: 'string', default: env.MYSQL_DATABASE },
      ca: { type: 'string', default: env.MYSQL_CA },
    },
  });
  const mode = positionals[0];
  if (!['mysql2-text', 'mysql2-prepared'].includes(mode)) {
    console.error('usage: node client.js mysql2-text|mysql2-prepared [OPTIONS]');
    process.exit(2);
  }
  const missing = ['port', 'user', 'password', 'database', 'ca'].filter((k) => !args[k]);
  if (missing.length) {
    console.error(`missing ${missing.join(', ')}`);
    process.exit(2);
  }

  let conn;
  await step('connect', async () => {
    conn = await mysql.createConnection(options(args, fs.readFileSync(args.ca)));
    const tls = conn.connection.stream.getProtocol?.() ?? null;
    return { driver: 'mysql2', version, tls };
  });
  await script(conn, mode === 'mysql2-prepared');
  await conn.end();

  // Node's bundled CAs only (no `ca`): Ward's certificate must not pass.
  try {
    const other = await mysql.createConnection({ ...options(args, undefined), ssl: {} });
    await other.end();
    emit('untrusted', { refused: false });
    process.exit(1);
  } catch (e) {
    emit('untrusted', { refused: true, error: e.message });
  }
  emit('done', {});
}

main().catch((e) => {
  emit('main', { failed: errorOf(e) });
  process.exit(1);
});
