"""poft.aggregation"""
