"""SQL that a migration applies from a file: database functions and triggers live in `<app>/sql/<object>.sql`.

Each file holds one database object (a function, or a trigger with its function), written so that applying it
again is harmless: `CREATE OR REPLACE FUNCTION`, `DROP TRIGGER IF EXISTS …; CREATE TRIGGER …`. The migration that
introduced an object applies its file, and so does every later migration that changes it: a database that already
ran the first one gets the new definition from the later one, a new database gets it from both. The file is read
when the migration runs, so its body exists once in the repository and `sqlmigrate` shows it.

This module imports no app, so every app's migrations may use it.
"""

from pathlib import Path

from django.apps import apps
from django.db import router
from django.db.migrations.operations.base import Operation


class RunSQLFile(Operation):
    """Execute `<app>/<path>` forwards and `reverse_sql` backwards (RunSQL.noop: nothing; None: irreversible).

    The file is sent as one string with no parameters, so `%` needs no escaping and `$$` bodies arrive as written.
    """

    reduces_to_sql = True

    def __init__(self, app_label: str, path: str, *, reverse_sql: str | None = None):
        self.app_label = app_label
        self.path = path
        self.reverse_sql = reverse_sql

    def deconstruct(self):
        kwargs = {} if self.reverse_sql is None else {"reverse_sql": self.reverse_sql}
        return self.__class__.__qualname__, [self.app_label, self.path], kwargs

    @property
    def reversible(self) -> bool:
        return self.reverse_sql is not None

    def file(self) -> Path:
        return Path(apps.get_app_config(self.app_label).path) / self.path

    def state_forwards(self, app_label, state):
        pass

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if router.allow_migrate(schema_editor.connection.alias, app_label):
            schema_editor.execute(self.file().read_text(encoding="utf-8"), params=None)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if self.reverse_sql is None:
            raise NotImplementedError(f"applying {self.app_label}/{self.path} cannot be reversed")
        if self.reverse_sql and router.allow_migrate(schema_editor.connection.alias, app_label):  # "": RunSQL.noop
            schema_editor.execute(self.reverse_sql, params=None)

    def describe(self) -> str:
        return f"Apply {self.app_label}/{self.path}"
