"""poft.commitment"""
