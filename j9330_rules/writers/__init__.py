"""Results out: table, csv, json, x12 summary and the serialised result."""
