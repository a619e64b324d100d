"""poft.protocol"""
