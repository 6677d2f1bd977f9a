import { useState } from 'preact/hooks';
import { isMasked } from '../format';
import { LockIcon } from './Bits';

export interface Column {
  name: string;
  type_oid?: number;
}

const PAGE = 50;

/** MySQL's column types (`MYSQL_TYPE_*`), which a MySQL session's results record as `type_oid`. */
const MYSQL_TYPES: Record<number, string> = {
  0: 'DECIMAL',
  1: 'TINYINT',
  2: 'SMALLINT',
  3: 'INT',
  4: 'FLOAT',
  5: 'DOUBLE',
  6: 'NULL',
  7: 'TIMESTAMP',
  8: 'BIGINT',
  9: 'MEDIUMINT',
  10: 'DATE',
  11: 'TIME',
  12: 'DATETIME',
  13: 'YEAR',
  14: 'DATE',
  15: 'VARCHAR',
  16: 'BIT',
  245: 'JSON',
  246: 'DECIMAL',
  247: 'ENUM',
  248: 'SET',
  249: 'TINYBLOB or TINYTEXT',
  250: 'MEDIUMBLOB or MEDIUMTEXT',
  251: 'LONGBLOB or LONGTEXT',
  252: 'BLOB or TEXT',
  253: 'VARCHAR or VARBINARY',
  254: 'CHAR or BINARY',
  255: 'GEOMETRY',
};

/** A column's type, as its header's tooltip says it: the session's protocol decides what the number is. */
function typeTitle(c: Column, protocol?: string): string | undefined {
  if (c.type_oid == null) return undefined;
  if (protocol === 'mysql') return `MySQL type ${MYSQL_TYPES[c.type_oid] ?? c.type_oid}`;
  return `type oid ${c.type_oid}`;
}

export function Cell({ value }: { value: string | null | undefined }) {
  if (value === null || value === undefined) return <td class="null">NULL</td>;
  if (isMasked(value))
    return (
      <td class="masked" data-testid="masked-cell" data-masked="true" title="Masked by Ward" aria-description="masked value">
        <LockIcon />
        {value}
      </td>
    );
  return <td>{value}</td>;
}

/** Result rows of one statement, paged client-side by 50. */
export function ResultTable({
  columns,
  rows,
  page,
  onPage,
  protocol,
}: {
  columns: Column[];
  rows: (string | null)[][];
  page?: number;
  onPage?: (p: number) => void;
  /** The session's protocol (`postgres`, `mysql`, …): what the columns' type numbers mean. */
  protocol?: string;
}) {
  const [localPage, setLocalPage] = useState(0);
  const p = page ?? localPage;
  const setP = onPage ?? setLocalPage;
  const pages = Math.max(1, Math.ceil(rows.length / PAGE));
  const cur = Math.min(p, pages - 1);
  const slice = rows.slice(cur * PAGE, cur * PAGE + PAGE);
  return (
    <div class="result">
      <div class="result-scroll">
        <table class="result-table" data-testid="result-table">
          <thead>
            <tr>
              <th class="rownum" scope="col">
                #
              </th>
              {columns.map((c, i) => (
                <th key={i} scope="col" title={typeTitle(c, protocol)}>
                  {c.name}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {slice.map((r, i) => (
              <tr key={cur * PAGE + i}>
                <td class="rownum">{cur * PAGE + i + 1}</td>
                {columns.map((_, j) => (
                  <Cell key={j} value={r[j]} />
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {pages > 1 && (
        <div class="pager" role="navigation" aria-label="Result pages">
          <button type="button" class="btn btn-small" disabled={cur === 0} onClick={() => setP(cur - 1)}>
            ‹ Prev
          </button>
          <span>
            Rows {cur * PAGE + 1}–{Math.min(rows.length, cur * PAGE + PAGE)} of {rows.length}
          </span>
          <button type="button" class="btn btn-small" disabled={cur >= pages - 1} onClick={() => setP(cur + 1)}>
            Next ›
          </button>
        </div>
      )}
    </div>
  );
}
