"""poft.learning"""
