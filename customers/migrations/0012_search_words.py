"""An index of name words for customer search (customers.models.SearchWord, SearchPosting).

A search for a common first name ("michael", 2.3 % of a million customers) found its matches
neither by walking the names (they sit together after "A" to "Mi") nor cheaply by the trigram
index (23,680 matches read from 12,490 table pages, then sorted by name). The words of each
customer's search text, and per word its customers in name order, let
customers.selectors.first_matches read only a page's worth of each word containing the term.

On PostgreSQL the tables are kept by statement-level triggers on customers_customer (with
transition tables: one statement, one pass, however many rows; COPY, bulk_create and raw SQL
included), and filled here for the customers already stored. SQLite leaves them empty (its
search scans).
"""

from django.db import migrations, models

# The words of a customer's search text: customers.models.SearchText split on what is not a
# letter or digit. A term of ASCII letters and digits found in the text lies inside one word.
WORDS_FUNCTION = r"""
CREATE FUNCTION customers_search_words(name text, email text, company text)
RETURNS SETOF text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT DISTINCT word
    FROM regexp_split_to_table(lower(name || ' ' || email || ' ' || company), '[^[:alnum:]]+') word
    WHERE word <> ''
$$
"""


def postings(rows: str) -> str:
    """(word, name, customer_id) of every word of `rows` (customers)."""
    return (
        f"SELECT w.word, c.name, c.id FROM {rows} c "
        "CROSS JOIN LATERAL customers_search_words(c.name, c.email, c.company) w(word)"
    )


def add(rows: str) -> str:
    # In word order: concurrent writers meet on new words in the same order (no deadlock),
    # and a big load appends to the indexes rather than inserting all over them.
    return (
        f"INSERT INTO customers_searchword (word) SELECT DISTINCT word FROM ({postings(rows)}) p "
        "ORDER BY word ON CONFLICT DO NOTHING; "
        f"INSERT INTO customers_searchposting (word, name, customer_id) "
        f"SELECT * FROM ({postings(rows)}) p ORDER BY 1, 2, 3;"
    )


def remove(gone: str) -> str:
    return (
        f"DELETE FROM customers_searchposting p USING ({gone}) g(word, name, id) "
        "WHERE p.word = g.word AND p.name = g.name AND p.customer_id = g.id;"
    )


# Rows of one transition table whose search text the other has for the same id (an update of
# other columns: nothing to do).
UNCHANGED = (
    "EXISTS (SELECT FROM {other} x WHERE x.id = c.id AND x.name = c.name "
    "AND x.email = c.email AND x.company = c.company)"
)
CHANGED_OLD = f"(SELECT * FROM old_rows c WHERE NOT {UNCHANGED.format(other='new_rows')})"
CHANGED_NEW = f"(SELECT * FROM new_rows c WHERE NOT {UNCHANGED.format(other='old_rows')})"

# After a delete (an erasure), the words no customer has any more leave the vocabulary. A
# customer being stored at the same time may bring one of them back: its uncommitted words
# are not seen here. So the vocabulary is locked against writers (they hold ROW EXCLUSIVE from
# their first word to their commit) and the check repeated, in a new snapshot (READ
# COMMITTED; under another isolation level the words stay). Only when some word may go.
ORPHANS = (
    "SELECT DISTINCT w.word FROM old_rows c "
    "CROSS JOIN LATERAL customers_search_words(c.name, c.email, c.company) w(word) "
    "WHERE NOT EXISTS (SELECT FROM customers_searchposting p WHERE p.word = w.word)"
)
FORGET = (
    f"IF current_setting('transaction_isolation') = 'read committed' AND EXISTS ({ORPHANS}) "
    "THEN LOCK TABLE customers_searchword IN SHARE ROW EXCLUSIVE MODE; "
    f"DELETE FROM customers_searchword v USING ({ORPHANS}) o WHERE v.word = o.word; END IF;"
)

TRIGGERS = [
    # (event, transition tables, body)
    ("INSERT", "NEW TABLE AS new_rows", add("new_rows")),
    ("DELETE", "OLD TABLE AS old_rows", remove(postings("old_rows")) + FORGET),
    (
        "UPDATE",
        "OLD TABLE AS old_rows NEW TABLE AS new_rows",
        # Only the postings that differ: a new email leaves the name's words in place.
        remove(f"{postings(CHANGED_OLD)} EXCEPT {postings(CHANGED_NEW)}")
        + "INSERT INTO customers_searchword (word) SELECT DISTINCT w.word "
        f"FROM ({postings(CHANGED_NEW)}) w ORDER BY 1 ON CONFLICT DO NOTHING; "
        "INSERT INTO customers_searchposting (word, name, customer_id) "
        f"SELECT * FROM ({postings(CHANGED_NEW)} EXCEPT {postings(CHANGED_OLD)}) p "
        "ORDER BY 1, 2, 3;",
    ),
]

# TRUNCATE has no transition table. When the same statement truncated the word tables too
# (Django's flush) they are empty, and truncating them again here would fail (in use).
TRUNCATE_BODY = (
    "IF EXISTS (SELECT FROM customers_searchposting) OR EXISTS (SELECT FROM customers_searchword) "
    "THEN TRUNCATE customers_searchposting, customers_searchword; END IF;"
)


def create_search_words(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    execute = schema_editor.execute
    execute(WORDS_FUNCTION)
    execute(
        "CREATE INDEX customer_search_word_trgm ON customers_searchword "
        "USING gin (word gin_trgm_ops)"
    )
    events = [*TRIGGERS, ("TRUNCATE", "", TRUNCATE_BODY)]
    for event, transitions, body in events:
        name = f"customers_search_words_{event.lower()}"
        execute(
            f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN {body} RETURN NULL; END $$"
        )
        referencing = f"REFERENCING {transitions} " if transitions else ""
        execute(
            f"CREATE TRIGGER {name} AFTER {event} ON customers_customer {referencing}"
            f"FOR EACH STATEMENT EXECUTE FUNCTION {name}()"
        )
    # The customers already stored, as the INSERT trigger would have.
    execute(f"DO $$ BEGIN {add('customers_customer')} END $$")


def drop_search_words(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for event in ("insert", "delete", "update", "truncate"):
        name = f"customers_search_words_{event}"
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {name} ON customers_customer")
        schema_editor.execute(f"DROP FUNCTION IF EXISTS {name}()")
    schema_editor.execute("DROP FUNCTION IF EXISTS customers_search_words(text, text, text)")


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0011_interaction_customer_id_index"),
    ]

    operations = [
        migrations.CreateModel(
            name="SearchPosting",
            fields=[
                (
                    "pk",
                    models.CompositePrimaryKey(
                        "word",
                        "name",
                        "customer_id",
                        blank=True,
                        editable=False,
                        primary_key=True,
                        serialize=False,
                    ),
                ),
                ("word", models.TextField()),
                ("name", models.CharField(max_length=200)),
                ("customer_id", models.BigIntegerField()),
            ],
        ),
        migrations.CreateModel(
            name="SearchWord",
            fields=[
                ("word", models.TextField(primary_key=True, serialize=False)),
            ],
        ),
        migrations.RunPython(create_search_words, drop_search_words),
    ]
