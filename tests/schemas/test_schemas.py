import pyarrow as pa

from newslake.schemas import ANNOTATION_TABLES, PARTITION, ROLLUP_TABLES, TABLES


def test_schemas_every_table_is_partitioned_by_date_outside_its_files():
    for table in TABLES.values():
        assert "date" not in table.schema.names, table.name
        assert table.dataset_schema.field("date") == PARTITION
        assert len(set(table.schema.names)) == len(table.schema.names)


def test_schemas_keys_are_non_null_columns_of_the_table():
    for table in TABLES.values():
        for column in table.key:
            assert table.schema.field(column).nullable is False, (table.name, column)
        if table.replace_by:
            assert pa.types.is_string(table.schema.field(table.replace_by).type), table.name
            assert table.replace_by == table.key[0], table.name


def test_schemas_document_level_tables_are_replaced_by_doc_id():
    for name in ("documents", *ANNOTATION_TABLES):
        assert TABLES[name].replace_by == "doc_id"
    for name in ROLLUP_TABLES:
        assert TABLES[name].replace_by is None
