"""poft.store"""
