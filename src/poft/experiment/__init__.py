"""poft.experiment"""
