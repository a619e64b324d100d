"""poft.ledger"""
