"""Run conformance cases through the DSL engine: ``manage.py dsl_eval --jsonl IN --out OUT``."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandParser

from scoring.dsl.conformance import run_jsonl


class Command(BaseCommand):
    help = "Run golden DSL cases (JSON lines) and write one result line per case."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--jsonl", required=True, type=Path, help="cases to run")
        parser.add_argument("--out", required=True, type=Path, help="where to write results")

    def handle(self, *args: object, jsonl: Path, out: Path, **options: object) -> None:
        count = run_jsonl(Path(jsonl), Path(out))
        self.stdout.write(f"{count} cases written to {out}")
