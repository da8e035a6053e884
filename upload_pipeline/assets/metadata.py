"""Shared helpers that turn step results into Dagster metadata the UI shows well."""

import dagster as dg
import pyarrow as pa

from upload_pipeline.landing import Rejection


def column_schema(schema: pa.Schema | None) -> dg.TableSchema:
    return dg.TableSchema(columns=[dg.TableColumn(f.name, str(f.type)) for f in (schema or [])])


def rejections_md(rejected: list[Rejection]) -> dg.MetadataValue:
    if not rejected:
        return dg.MetadataValue.md("No bad files.")
    rows = "\n".join(f"| `{r.relpath}` | {r.reason} |" for r in rejected)
    return dg.MetadataValue.md(f"| file | reason |\n|---|---|\n{rows}")


def paths_md(paths: list[str], empty: str = "none") -> dg.MetadataValue:
    if not paths:
        return dg.MetadataValue.md(empty)
    shown = "\n".join(f"- `{p}`" for p in paths[:200])
    more = f"\n- … and {len(paths) - 200} more" if len(paths) > 200 else ""
    return dg.MetadataValue.md(shown + more)
