/*
 * lance_fdw_import.c
 *	  IMPORT FOREIGN SCHEMA for lance_fdw: one foreign table per <name>.lance
 *	  dataset in the server's directory, typed from its latest manifest.
 *
 * A LanceDB directory has no schemas, so the remote schema name of the
 * statement is not used.
 */
#include "fdw/lance_fdw.h"

#include "commands/defrem.h"
#include "foreign/foreign.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "storage/fd.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

/* Whether LIMIT TO / EXCEPT lets table `name` through. */
static bool
wanted(ImportForeignSchemaStmt *stmt, const char *name)
{
	ListCell   *lc;
	bool		listed = false;

	if (stmt->list_type == FDW_IMPORT_SCHEMA_ALL)
		return true;
	foreach(lc, stmt->table_list)
	{
		RangeVar   *rv = (RangeVar *) lfirst(lc);

		if (strcmp(rv->relname, name) == 0)
			listed = true;
	}
	return stmt->list_type == FDW_IMPORT_SCHEMA_LIMIT_TO ? listed : !listed;
}

static int
cmp_names(const ListCell *a, const ListCell *b)
{
	return strcmp((const char *) lfirst(a), (const char *) lfirst(b));
}

/*
 * CREATE FOREIGN TABLE for dataset `name`, or NULL to skip it.  With
 * `hidden`, the hidden _rowid and _rowaddr columns are added (unless the
 * dataset has fields of those names).
 */
static char *
table_command(const char *uri, const char *name, const char *server, bool hidden)
{
	LanceFdwTarget target = {0};
	LanceManifest *m;
	LanceVersionList versions;
	LanceError	err = {0};
	StringInfoData buf;
	bool		first = true;
	int			i;

	target.dataset = lance_fdw_dataset_in_dir(uri, name, true);
	if (target.dataset == NULL)
	{
		ereport(WARNING,
				(errmsg("skipping Lance dataset \"%s\": it is missing or outside \"%s\"", name, uri)));
		return NULL;
	}
	/* a directory a failed create left behind holds no version */
	if (!lance_fdw_is_dataset(target.dataset) ||
		!lance_list_versions(target.dataset, &versions, &err) || versions.n == 0)
	{
		ereport(NOTICE,
				(errmsg("skipping \"%s\": not a Lance dataset with a committed version",
						target.dataset)));
		return NULL;
	}
	lance_version_list_free(&versions);
	m = lance_fdw_load_manifest(&target);

	initStringInfo(&buf);
	appendStringInfo(&buf, "CREATE FOREIGN TABLE %s (", quote_identifier(name));
	for (i = 0; i < m->nfields; i++)
	{
		const LanceField *f = &m->fields[i];
		Oid			typid;
		int32		typmod;

		if (f->parent >= 0)
			continue;
		if (!lance_fdw_default_type(m, i, &typid, &typmod))
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
					 errmsg("column \"%s\" of Lance dataset \"%s\" has type \"%s\", which lance_fdw cannot map",
							f->name, target.dataset, f->logical_type),
					 errhint("Leave the dataset out with EXCEPT, or create its foreign table by hand without that column.")));
		appendStringInfo(&buf, "%s\n  %s %s", first ? "" : ",",
						 quote_identifier(f->name), format_type_with_typemod(typid, typmod));
		/* longer names would be truncated to NAMEDATALEN - 1 bytes */
		if (strlen(f->name) >= NAMEDATALEN)
			appendStringInfo(&buf, " OPTIONS (column_name %s)", quote_literal_cstr(f->name));
		if (!f->nullable)
			appendStringInfoString(&buf, " NOT NULL");
		first = false;
	}
	if (hidden)
	{
		if (lance_fdw_top_field(m, "_rowid") < 0)
		{
			appendStringInfo(&buf, "%s\n  _rowid bigint NOT NULL", first ? "" : ",");
			first = false;
		}
		if (lance_fdw_top_field(m, "_rowaddr") < 0)
			appendStringInfo(&buf, "%s\n  _rowaddr bigint NOT NULL", first ? "" : ",");
	}
	appendStringInfo(&buf, "\n) SERVER %s OPTIONS (table %s)",
					 quote_identifier(server), quote_literal_cstr(name));
	return buf.data;
}

List *
lance_fdw_import_schema(ImportForeignSchemaStmt *stmt, Oid serverOid)
{
	ForeignServer *server = GetForeignServer(serverOid);
	const char *uri = NULL;
	List	   *names = NIL;
	List	   *commands = NIL;
	DIR		   *dir;
	struct dirent *de;
	ListCell   *lc;
	MemoryContext tmp;
	bool		hidden = false;

	/* statement options: hidden_columns adds _rowid and _rowaddr */
	foreach(lc, stmt->options)
	{
		DefElem    *def = (DefElem *) lfirst(lc);

		if (strcmp(def->defname, "hidden_columns") == 0)
			hidden = defGetBoolean(def);
		else
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
					 errmsg("invalid option \"%s\" of IMPORT FOREIGN SCHEMA", def->defname),
					 errhint("The only option is hidden_columns.")));
	}
	foreach(lc, server->options)
	{
		DefElem    *def = (DefElem *) lfirst(lc);

		if (strcmp(def->defname, "uri") == 0)
			uri = defGetString(def);
	}
	if (uri == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
				 errmsg("server \"%s\" has no \"uri\" option", server->servername),
				 errhint("IMPORT FOREIGN SCHEMA reads the datasets of the server's LanceDB directory.")));
	lance_fdw_init_reader();

	dir = AllocateDir(uri);
	while ((de = ReadDir(dir, uri)) != NULL)
	{
		size_t		len = strlen(de->d_name);
		char	   *name;

		if (len <= 6 || strcmp(de->d_name + len - 6, ".lance") != 0)
			continue;
		name = pnstrdup(de->d_name, len - 6);
		if (lance_fdw_valid_name(name) && wanted(stmt, name))
			names = lappend(names, name);
	}
	FreeDir(dir);
	list_sort(names, cmp_names);

	/* manifests are read one at a time; only the commands are kept */
	tmp = AllocSetContextCreate(CurrentMemoryContext, "lance_fdw import",
								ALLOCSET_DEFAULT_SIZES);
	foreach(lc, names)
	{
		MemoryContext old;
		char	   *cmd;

		CHECK_FOR_INTERRUPTS();
		old = MemoryContextSwitchTo(tmp);
		cmd = table_command(uri, (const char *) lfirst(lc), server->servername, hidden);
		MemoryContextSwitchTo(old);
		if (cmd != NULL)
			commands = lappend(commands, pstrdup(cmd));
		MemoryContextReset(tmp);
	}
	MemoryContextDelete(tmp);
	return commands;
}
