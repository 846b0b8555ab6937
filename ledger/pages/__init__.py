"""Pages for customers, served as HTML (Django templates in templates/), not through an API envelope. They live in
ledger because they open customers, and a customer is opened here with its wallets."""
