import pyarrow as pa

from schemas import PARTITION, TABLES


def test_schemas_every_table_is_partitioned_by_date_outside_its_files():
    for table in TABLES.values():
        assert "date" not in table.schema.names, table.name
        assert table.dataset_schema.field("date") == PARTITION
        assert len(set(table.schema.names)) == len(table.schema.names)


def test_schemas_replacement_keys_are_string_columns_of_the_table():
    for table in TABLES.values():
        for column in table.replace_by:
            assert pa.types.is_string(table.schema.field(column).type), (table.name, column)


def test_schemas_document_level_tables_are_keyed_by_doc_id():
    for name in ("documents", "sentences", "mentions", "entities", "tokens"):
        assert TABLES[name].replace_by == ("doc_id",)
        assert TABLES[name].schema.field("doc_id").nullable is False
