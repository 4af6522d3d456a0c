"""What `regulars ingest` prints after a load, on DuckDB or on Spark (a lake)."""

from __future__ import annotations

from regulars.cli.common import console


def print_ingest(result, see_why: str, where: str = "") -> None:
    """The load's counts per table, customers made, guest orders, warnings, and where to see rejected rows."""
    console.print(
        f"[bold]run {result.run_id}[/] ({result.format}{', ' + where if where else ''}): read {result.rows_read:,} "
        f"rows, loaded {result.rows_loaded:,}, quarantined {result.rows_quarantined:,} in {result.seconds:.2f}s"
    )
    for table, counts in result.tables.items():
        parts = ", ".join(f"{v:,} {k.replace('_', ' ')}" for k, v in counts.items())
        console.print(f"  {table}: {parts}")
    if getattr(result, "months_rewritten", None):
        console.print(f"  months rewritten: {len(result.months_rewritten)} "
                      f"({result.months_rewritten[0]} … {result.months_rewritten[-1]}); the others were not touched")
    if result.customers_created:
        console.print(f"  customers created from this file: {result.customers_created:,}")
    if result.customers_merged:
        console.print(f"  provisional customers merged into shop customers: {result.customers_merged:,}")
    if result.guest_orders:
        console.print(f"  guest orders (no customer; counted in shop totals, not in customer analyses): "
                      f"{result.guest_orders:,}")
    for w in result.warnings:
        console.print(f"  [yellow]warning:[/] {w}")
    if result.rows_quarantined:
        console.print(f"  see why with: {see_why}")
