"""台账 imports of members from CSV or XLSX files."""
