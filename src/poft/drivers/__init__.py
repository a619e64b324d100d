"""poft.drivers"""
